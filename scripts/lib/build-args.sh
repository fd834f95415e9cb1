# What the image build scripts share: their base image, extra CAs, log lines, arguments and the
# docker build call. Sourced by them.

# shellcheck source=extra-ca.sh
source "$(dirname "${BASH_SOURCE[0]}")/extra-ca.sh"
export BASE_IMAGE="${BASE_IMAGE:-debian:bookworm-slim}"  # build-base-image.sh reads it too

log() { echo "$(basename "$0" .sh): $*" >&2; }
die() { log "error: $*"; exit 1; }

# parse_build_args HELP_LINES ARG...: sets ca_dir from --ca-dir DIR / --ca-dir=DIR (by default
# default_extra_ca_dir's), prints the script's header lines HELP_LINES (a sed range) for -h/--help,
# and hands any other argument to the script's own `build_flag ARG` when it defines one, which
# returns non-zero for an argument it does not know either.
parse_build_args() {
  local help_lines="$1"
  shift
  ca_dir="$(default_extra_ca_dir)"
  while [ $# -gt 0 ]; do
    case "$1" in
      --ca-dir) [ $# -ge 2 ] || die "--ca-dir needs a directory"; ca_dir="$2"; shift 2 ;;
      --ca-dir=*) ca_dir="${1#--ca-dir=}"; shift ;;
      -h|--help) sed -n "${help_lines}p" "$0"; exit 0 ;;
      *)
        if declare -F build_flag >/dev/null && build_flag "$1"; then shift; else die "unknown argument: $1"; fi
        ;;
    esac
  done
}

# build_image IMAGE CONTEXT [DOCKER BUILD ARG...]: builds and logs the time it took and the size.
build_image() {
  local image="$1" ctx="$2" start size
  shift 2
  # Docker 28's client needs the buildx plugin for BuildKit; without it use the classic builder.
  docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
  start=$SECONDS
  docker build "$@" -t "$image" "$ctx"
  size="$(docker image inspect -f '{{.Size}}' "$image")"
  log "built $image in $((SECONDS - start))s, size $((size / 1024 / 1024)) MiB"
}
