#!/bin/bash
# Makes sure the sandbox's base image exists: keeps a local one, else pulls it, else (no registry
# reachable) builds an equivalent with debootstrap and `docker import`. Idempotent.
set -euo pipefail
IMAGE="${BASE_IMAGE:-debian:bookworm-slim}"
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

log() { echo "build-base-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE is present"
  exit 0
fi
log "pulling $IMAGE"
if timeout 60 docker pull -q "$IMAGE" >/dev/null 2>&1; then
  log "pulled $IMAGE"
  exit 0
fi

log "pull failed; building $IMAGE with debootstrap from $MIRROR"
[ "$(id -u)" = 0 ] || die "debootstrap needs root"
if ! command -v debootstrap >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and apt-get is not available"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq debootstrap >/dev/null
fi
rootfs="$(mktemp -d /tmp/codex-runner-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >/dev/null \
  || die "debootstrap failed (is $MIRROR reachable?)"
# The image must not keep the package lists or apt caches of the build.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | docker import -c 'CMD ["bash"]' - "$IMAGE" >/dev/null
log "built $IMAGE"
