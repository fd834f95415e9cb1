#!/bin/bash
# One-time machine setup (`npm run setup`): a running Docker engine and the sandbox image.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bash "$ROOT/scripts/install-docker.sh"

# Extra CAs for the image build: see build-sandbox-image.sh (--ca-dir, CODEX_RUNNER_EXTRA_CA_DIR).
bash "$ROOT/scripts/build-sandbox-image.sh"
