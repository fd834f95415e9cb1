#!/bin/bash
# Builds codex-runner-sandbox:latest from sandbox-image/. Usage:
#   scripts/build-sandbox-image.sh [--ca-dir DIR]
# DIR (or $CODEX_RUNNER_EXTRA_CA_DIR) holds extra CA certs (*.crt, *.pem) that the build and the
# sandbox trust, for networks behind a TLS-intercepting proxy. When neither is given, the host's local
# CAs in /usr/local/share/ca-certificates are used if there are any: behind such a proxy that is where
# its CA lives. CODEX_RUNNER_EXTRA_CA_DIR= (set, empty) disables that. Re-runs hit Docker's layer cache.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${SANDBOX_IMAGE:-codex-runner-sandbox:latest}"
export BASE_IMAGE="${BASE_IMAGE:-debian:bookworm-slim}"  # build-base-image.sh reads it too
# shellcheck source=lib/extra-ca.sh
source "$ROOT/scripts/lib/extra-ca.sh"
ca_dir="$(default_extra_ca_dir)"

log() { echo "build-sandbox-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --ca-dir) [ $# -ge 2 ] || die "--ca-dir needs a directory"; ca_dir="$2"; shift 2 ;;
    --ca-dir=*) ca_dir="${1#--ca-dir=}"; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

bash "$ROOT/scripts/build-base-image.sh"

ctx="$(mktemp -d /tmp/codex-runner-sandbox-ctx.XXXXXX)"
trap 'rm -rf "$ctx"' EXIT
cp "$ROOT/sandbox-image/Dockerfile" "$ctx/"
cp -r "$ROOT/sandbox-image/bin" "$ctx/"
certs="$(stage_extra_ca "$ca_dir" "$ctx/ca")" || die "CA directory not found: $ca_dir"
[ -z "$ca_dir" ] || log "extra CA certs: $certs from $ca_dir"
# The classic builder keys its cache on content and metadata, so normalize modes and times.
chmod 0755 "$ctx"/bin/*
chmod 0644 "$ctx"/Dockerfile
find "$ctx/ca" -type f -exec chmod 0644 {} +
find "$ctx" -exec touch -h -d @0 {} +

# Docker 28's client needs the buildx plugin for BuildKit; without it use the classic builder.
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
start=$SECONDS
docker build --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$IMAGE" "$ctx"
size="$(docker image inspect -f '{{.Size}}' "$IMAGE")"
log "built $IMAGE in $((SECONDS - start))s, size $((size / 1024 / 1024)) MiB"
