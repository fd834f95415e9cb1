#!/bin/bash
# One-time machine setup (`npm run setup`): a running Docker engine and the sandbox image.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bash "$ROOT/scripts/install-docker.sh"

# Extra CAs for the image build: $CODEX_RUNNER_EXTRA_CA_DIR when set (empty disables). Otherwise the
# host's local CAs in /usr/local/share/ca-certificates when there are any: on machines whose HTTPS
# goes through a TLS-intercepting proxy that is where its CA lives, and fetching Codex needs it.
if [ -z "${CODEX_RUNNER_EXTRA_CA_DIR+set}" ] \
  && compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  export CODEX_RUNNER_EXTRA_CA_DIR=/usr/local/share/ca-certificates
fi
bash "$ROOT/scripts/build-sandbox-image.sh"
