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
# shellcheck source=lib/build-args.sh
source "$ROOT/scripts/lib/build-args.sh"
parse_build_args 2,7 "$@"

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

build_image "$IMAGE" "$ctx" --build-arg BASE_IMAGE="$BASE_IMAGE"
