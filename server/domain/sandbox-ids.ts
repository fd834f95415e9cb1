/**
 * The ids sandboxes run as unless the config's `sandbox.uid` / `sandbox.gid` say otherwise; what
 * an upload's files are owned by. Chosen to be no account of the host's (above nobody's 65534,
 * below the 100000 where /etc/subuid ranges start), so no host user owns a sandbox's processes
 * (/proc/<pid>/environ holds the run token) or its files. sandbox-image/Dockerfile creates the
 * same ids for its `codex` user.
 */
export const DEFAULT_SANDBOX_IDS = { uid: 70_000, gid: 70_000 } as const;
