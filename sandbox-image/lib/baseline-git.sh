# Shared by codex-runner-prepare and codex-runner-diff.
# The git dir lives outside the workspace; user and global git config are ignored so that nothing in
# the workspace or $HOME (both writable by the model's commands) can change how the diff is made.
export GIT_CONFIG_NOSYSTEM=1
export GIT_CONFIG_GLOBAL=/dev/null
export GIT_TERMINAL_PROMPT=0
BASELINE_GIT_DIR="${BASELINE_GIT_DIR:-/tmp/codex-runner/baseline.git}"
BASELINE_GIT_ARGS=(
  --git-dir="$BASELINE_GIT_DIR" --work-tree=/workspace
  -c user.name=codex-runner -c user.email=codex-runner@localhost
  -c core.autocrlf=false -c core.fileMode=true -c core.symlinks=true
  -c diff.noprefix=false -c diff.external= -c core.hooksPath=/dev/null
  -c gc.auto=0 -c advice.detachedHead=false
  # The baseline's objects live only as long as the sandbox: hash fast rather than pack small.
  -c core.compression=1
)
baseline_git() { git "${BASELINE_GIT_ARGS[@]}" "$@"; }
