#!/bin/bash
# The docker-compose smoke (`npm run compose:smoke`, run by .ci/run): checks docker-compose.yml, brings
# the stack up with test/compose/smoke.yml (the smoke's config and a stand-in provider on the stack's
# network), completes one run through the API on the host's loopback, takes the stack down and checks
# that nothing is left: no container, volume or sandbox of the stack.
# Needs the two images (`npm run setup` builds them) and docker-compose (installed here on Debian as
# root when missing: Debian's docker-compose package, compose v1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PROJECT=codex-runner-smoke
INSTANCE=compose-smoke
VOLUMES=(codex-runner-data codex-runner-gateway)

if ! command -v docker-compose >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing Debian's docker-compose"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-compose >/dev/null
  else
    echo "docker-compose is missing: on Debian, apt-get install docker-compose" >&2
    exit 1
  fi
fi
compose() { docker-compose -p "$PROJECT" -f docker-compose.yml -f test/compose/smoke.yml "$@"; }

# The stack's volumes have fixed names (sandboxes mount the gateway volume by name): a deployment of
# docker-compose.yml on this host would share them, so the smoke does not run beside one.
for volume in "${VOLUMES[@]}"; do
  if docker volume inspect "$volume" >/dev/null 2>&1; then
    echo "volume $volume exists: docker-compose.yml is deployed on this host; the smoke would share its volumes" >&2
    exit 1
  fi
done

echo "==> docker-compose config"
docker-compose -f docker-compose.yml config -q
compose config -q

CODEX_RUNNER_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CODEX_RUNNER_TOKEN="smoke-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export CODEX_RUNNER_PORT CODEX_RUNNER_TOKEN
url="http://127.0.0.1:$CODEX_RUNNER_PORT"
work=$(mktemp -d)

down() { compose down -v --remove-orphans --timeout 30; }
on_exit() {
  local status=$?
  if [ $status -ne 0 ]; then compose logs --no-color --tail 60 || true; fi
  down || true
  rm -rf "$work"
  exit $status
}
trap on_exit EXIT

echo "==> the README's compose-up block (port $CODEX_RUNNER_PORT)"
# As written there; compose's own variables layer the smoke's file on and name the project.
block=$(sed -n '/^<!-- readme-example: compose-up -->$/,/^```$/p' README.md | sed '1,2d;$d')
[ -n "$block" ] || { echo "README.md has no compose-up example" >&2; exit 1; }
COMPOSE_FILE=docker-compose.yml:test/compose/smoke.yml COMPOSE_PROJECT_NAME="$PROJECT" bash -euo pipefail -c "$block"
for _ in $(seq 1 60); do
  if curl -fsS "$url/readyz" >/dev/null 2>&1; then break; fi
  sleep 1
done
curl -fsS "$url/readyz" >/dev/null

echo "==> one run through the API"
mkdir "$work/repo"
printf 'hello\n' >"$work/repo/README.md"
tar -czf "$work/ws.tar.gz" -C "$work/repo" .
curl -sS -H "Authorization: Bearer $CODEX_RUNNER_TOKEN" \
  -F prompt='[stand-in:compose-smoke] add smoke.txt' \
  -F workspace=@"$work/ws.tar.gz" \
  "$url/v1/runs?wait=1" >"$work/run.json"
node -e '
  const run = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (run.status !== "succeeded" || run.final_message !== "compose smoke ok") {
    console.error("the run did not succeed:", JSON.stringify(run));
    process.exit(1);
  }
  console.log(`run ${run.id} ${run.status}: ${run.final_message}`);
  require("fs").writeFileSync(process.argv[2], run.id);
' "$work/run.json" "$work/run-id"
curl -fsS -H "Authorization: Bearer $CODEX_RUNNER_TOKEN" "$url/v1/runs/$(cat "$work/run-id")/diff" >"$work/run.diff"
git -C "$work/repo" init -q
git -C "$work/repo" apply "$work/run.diff"
grep -qx 'made by compose' "$work/repo/smoke.txt"

echo "==> docker-compose down"
trap - EXIT
down
rm -rf "$work"
left=$(
  docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"
  docker ps -aq --filter "label=codex-runner.instance=$INSTANCE"
  docker volume ls -q --filter "label=codex-runner.instance=$INSTANCE"
  for volume in "${VOLUMES[@]}"; do docker volume inspect --format '{{.Name}}' "$volume" 2>/dev/null || true; done
)
if [ -n "$left" ]; then
  echo "the stack left: $left" >&2
  exit 1
fi
echo "==> compose smoke passed: nothing left"
