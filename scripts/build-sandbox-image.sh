#!/bin/bash
# Builds codex-runner-sandbox:latest from sandbox-image/, or with --env NAME the environment image
# codex-runner-sandbox-NAME:latest from sandbox-image/env/NAME/ on top of it (the sandbox image is
# built first only when it is missing). Usage:
#   scripts/build-sandbox-image.sh [--ca-dir DIR] [--env node|python]
# DIR (or $CODEX_RUNNER_EXTRA_CA_DIR) holds extra CA certs (*.crt, *.pem) that the build and the
# sandbox trust, for networks behind a TLS-intercepting proxy. When neither is given, the host's local
# CAs in /usr/local/share/ca-certificates are used if there are any: behind such a proxy that is where
# its CA lives. CODEX_RUNNER_EXTRA_CA_DIR= (set, empty) disables that. Re-runs hit Docker's layer cache.
# SANDBOX_IMAGE and ENV_IMAGE (with --env) override the tags.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${SANDBOX_IMAGE:-codex-runner-sandbox:latest}"
# shellcheck source=lib/build-args.sh
source "$ROOT/scripts/lib/build-args.sh"
env_name=''
build_flag() {
  case "$1" in
    --env=*) env_name="${1#--env=}" ;;
    --env) pending_env=1 ;;
    *) [ "${pending_env:-}" = 1 ] || return 1; env_name="$1"; pending_env='' ;;
  esac
}
parse_build_args 2,10 "$@"
[ -z "${pending_env:-}" ] || die "--env needs a name"

if [ -n "$env_name" ]; then
  [ -f "$ROOT/sandbox-image/env/$env_name/Dockerfile" ] || die "no environment recipe sandbox-image/env/$env_name/Dockerfile"
  bash "$ROOT/scripts/build-base-image.sh"
  docker image inspect "$IMAGE" >/dev/null 2>&1 || SANDBOX_IMAGE="$IMAGE" bash "$0" ${ca_dir:+--ca-dir "$ca_dir"}
  env_image="${ENV_IMAGE:-codex-runner-sandbox-$env_name:latest}"
  ctx="$(mktemp -d /tmp/codex-runner-env-ctx.XXXXXX)"
  trap 'rm -rf "$ctx"' EXIT
  cp "$ROOT/sandbox-image/env/$env_name/Dockerfile" "$ctx/"
  certs="$(stage_extra_ca "$ca_dir" "$ctx/ca")" || die "CA directory not found: $ca_dir"
  [ -z "$ca_dir" ] || log "extra CA certs: $certs from $ca_dir"
  chmod 0644 "$ctx"/Dockerfile
  find "$ctx/ca" -type f -exec chmod 0644 {} +
  find "$ctx" -exec touch -h -d @0 {} +
  build_image "$env_image" "$ctx" --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg SANDBOX_IMAGE="$IMAGE"
  exit 0
fi

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
