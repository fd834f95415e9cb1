#!/bin/bash
# Makes a Docker engine available: installs Debian's docker.io when dockerd is missing and starts
# dockerd in the background when nothing answers. Idempotent and non-interactive.
set -euo pipefail
DOCKERD_LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
WAIT_S=60

log() { echo "install-docker: $*" >&2; }
die() { log "error: $*"; exit 1; }

if ! command -v dockerd >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "dockerd is missing and apt-get is not available: install Docker by hand"
  [ "$(id -u)" = 0 ] || die "dockerd is missing; run as root to install docker.io"
  log "installing docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi
command -v docker >/dev/null 2>&1 || die "the docker client is missing (expected with docker.io)"

if docker info >/dev/null 2>&1; then
  log "docker is running"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "docker info fails and only root can start dockerd here"
log "starting dockerd (log: $DOCKERD_LOG)"
nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
for _ in $(seq "$WAIT_S"); do
  if docker info >/dev/null 2>&1; then
    log "docker is running"
    exit 0
  fi
  kill -0 $! 2>/dev/null || { tail -n 20 "$DOCKERD_LOG" >&2; die "dockerd exited; see $DOCKERD_LOG"; }
  sleep 1
done
tail -n 20 "$DOCKERD_LOG" >&2
die "docker info still fails after ${WAIT_S}s; see $DOCKERD_LOG"
