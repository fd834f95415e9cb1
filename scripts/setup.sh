#!/bin/bash
# One-time machine setup (`npm run setup`): a running Docker engine, the sandbox image, the node and
# python environment images on it (about a minute together, cold) and the server image
# (docker-compose.yml runs it; test/server-in-container.test.ts tests it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bash "$ROOT/scripts/install-docker.sh"

# Extra CAs for the image builds: see build-sandbox-image.sh (--ca-dir, CODEX_RUNNER_EXTRA_CA_DIR).
bash "$ROOT/scripts/build-sandbox-image.sh"
bash "$ROOT/scripts/build-sandbox-image.sh" --env node
bash "$ROOT/scripts/build-sandbox-image.sh" --env python
bash "$ROOT/scripts/build-server-image.sh"
