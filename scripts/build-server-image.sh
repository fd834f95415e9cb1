#!/bin/bash
# Builds codex-runner-server:latest from server.Dockerfile (the image docker-compose.yml runs). Usage:
#   scripts/build-server-image.sh [--ca-dir DIR]
#   scripts/build-server-image.sh --source-hash   # prints the hash the image is labelled with, builds nothing
# Extra CA certs as in build-sandbox-image.sh: DIR, else $CODEX_RUNNER_EXTRA_CA_DIR, else the host's
# /usr/local/share/ca-certificates if it has any; CODEX_RUNNER_EXTRA_CA_DIR= (set, empty) disables that.
# The build context is a copy of what server.Dockerfile reads from the repository root, with the certs
# staged as its .extra-ca/, so nothing is written into the checkout. Re-runs hit Docker's layer cache.
# The image is labelled codex-runner.source-sha256 (those sources, CAs aside) so tests can tell a
# stale image from a current one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${SERVER_IMAGE:-codex-runner-server:latest}"
# shellcheck source=lib/build-args.sh
source "$ROOT/scripts/lib/build-args.sh"
source_hash_only=""
build_flag() { [ "$1" = --source-hash ] && source_hash_only=1; }
parse_build_args 2,10 "$@"

ctx="$(mktemp -d /tmp/codex-runner-server-ctx.XXXXXX)"
trap 'rm -rf "$ctx"' EXIT
# Exactly the sources server.Dockerfile COPYs, at the same relative paths (compose builds the same
# Dockerfile with the repository root as context). Tests stay out (tsconfig.build.json excludes them
# anyway): they would only bust the cache.
(cd "$ROOT" && cp --parents package.json package-lock.json tsconfig.json tsconfig.build.json server/config/compose.toml "$ctx/")
(cd "$ROOT" && find server -type f ! -name '*.test.ts' ! -name 'test-*.ts' -exec cp --parents {} "$ctx/" \;)
cp "$ROOT/server.Dockerfile" "$ctx/Dockerfile"
source_hash="$(cd "$ctx" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)"
if [ -n "$source_hash_only" ]; then echo "$source_hash"; exit 0; fi

bash "$ROOT/scripts/build-base-image.sh"
certs="$(stage_extra_ca "$ca_dir" "$ctx/.extra-ca")" || die "CA directory not found: $ca_dir"
[ -z "$ca_dir" ] || log "extra CA certs: $certs from $ca_dir"
# The classic builder keys its cache on content and metadata, so normalize modes and times.
find "$ctx" -type d -exec chmod 0755 {} +
find "$ctx" -type f -exec chmod 0644 {} +
find "$ctx" -exec touch -h -d @0 {} +

build_image "$IMAGE" "$ctx" --build-arg BASE_IMAGE="$BASE_IMAGE" --label "codex-runner.source-sha256=$source_hash"
