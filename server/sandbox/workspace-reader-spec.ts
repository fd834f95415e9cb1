import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';
import { WORKSPACE_DIR } from './driver.js';

/**
 * Lists `$2/$3` and tars it to stdout, leaving out the regular files that would take the files'
 * apparent bytes past `$1`: first fit in walk order, so a file too big for what is left is skipped
 * and smaller ones after it still go in. The names left out go NUL-separated to stderr, nothing
 * else does (find's and tar's own messages are dropped). Archive APIs cannot skip a file: a
 * `truncate -s 50G` file, which a tmpfs holds in no blocks, would otherwise stream 50 GB of zeros.
 */
export const READ_WITHIN_SCRIPT = `set -o pipefail
budget=$1
cd "$2" || exit 3
find "$3" -printf '%y %s %p\\0' 2>/dev/null | while IFS= read -r -d '' line; do
  kind=\${line%% *}; rest=\${line#* }; size=\${rest%% *}; path=\${rest#* }
  if [[ $kind == f ]]; then
    if (( size > budget )); then printf '%s\\0' "$path" >&3; continue; fi
    budget=$((budget - size))
  fi
  printf '%s\\0' "$path"
done 3>&2 | tar --null --no-recursion --numeric-owner --format=posix --pax-option=delete=atime,delete=ctime -T - -cf - 2>/dev/null
`;

export interface WorkspaceReaderInput {
  runId: string;
  image: string;
  volume: string;
  labels: Record<string, string>;
  maxBytes: number;
}

/**
 * A short-lived container that reads a frozen sandbox's workspace volume with the image's own
 * find, bash and tar. It holds nothing the run wrote but the volume, mounted read-only, and runs
 * none of it. Root with DAC_READ_SEARCH alone, so a file the run made unreadable (mode 000) is
 * still delivered; no network, no other capability, a read-only root.
 */
export function buildWorkspaceReaderSpec(input: WorkspaceReaderInput): Dockerode.ContainerCreateOptions {
  const parent = '/';
  const name = WORKSPACE_DIR.slice(1);
  return {
    // Two readers may start in the same millisecond (the export's and the diff's).
    name: `codex-runner-${input.runId}-reader-${randomBytes(4).toString('hex')}`,
    Image: input.image,
    Entrypoint: ['bash', '-c', READ_WITHIN_SCRIPT, 'read-within'],
    Cmd: [String(input.maxBytes), parent, name],
    User: '0:0',
    WorkingDir: '/',
    Labels: input.labels,
    NetworkDisabled: true,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      CapAdd: ['DAC_READ_SEARCH'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      IpcMode: 'private',
      Mounts: [{ Type: 'volume', Source: input.volume, Target: WORKSPACE_DIR, ReadOnly: true }],
      Memory: READER_MEMORY_BYTES,
      MemorySwap: READER_MEMORY_BYTES,
      PidsLimit: 16,
      Ulimits: [{ Name: 'core', Soft: 0, Hard: 0 }],
    },
  };
}

/** find, bash and tar stream: a few MiB each, whatever the tree's size. */
const READER_MEMORY_BYTES = 256 * 1024 * 1024;
