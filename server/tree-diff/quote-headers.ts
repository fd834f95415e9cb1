import { Transform, type TransformCallback } from 'node:stream';

const HEADER = Buffer.from('diff --git ');
const NEWLINE = 0x0a;
// A header holds two paths of at most PATH_MAX (4096) bytes each.
const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Passes a patch through, quoting the names of a `diff --git a/X b/X` line when X has a space.
 * git quotes names only for control bytes, `"`, `\` and non-ASCII, and `git apply` cannot split
 * an unquoted header whose name has a component ending in a space (`x /y`), which it must do for
 * a patch with no `---`/`+++` lines (binary, mode-only, empty files); quoted, it always can.
 */
export function quoteHeaders(): Transform {
  let atLineStart = true;
  let pending: Buffer | null = null;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      const out: Buffer[] = [];
      let at = 0;
      while (at < chunk.length) {
        if (pending === null && atLineStart && couldBeHeader(chunk.subarray(at, at + HEADER.length))) pending = Buffer.alloc(0);
        const newline = chunk.indexOf(NEWLINE, at);
        const end = newline === -1 ? chunk.length : newline + 1;
        if (pending !== null) {
          pending = Buffer.concat([pending, chunk.subarray(at, end)]);
          if (newline !== -1) {
            out.push(rewriteHeader(pending));
            pending = null;
          } else if (pending.length > MAX_HEADER_BYTES) {
            out.push(pending);
            pending = null;
          }
        } else {
          out.push(chunk.subarray(at, end));
        }
        atLineStart = newline !== -1;
        at = end;
      }
      callback(null, Buffer.concat(out));
    },
    flush(callback: TransformCallback) {
      callback(null, pending ?? Buffer.alloc(0));
    },
  });
}

/** Whether `head` (which may be cut short by the chunk's end) starts like a header line. */
function couldBeHeader(head: Buffer): boolean {
  return head.equals(HEADER.subarray(0, head.length));
}

/** `diff --git a/X b/X\n` → `diff --git "a/X" "b/X"\n` when X has a space and is unquoted. */
export function rewriteHeader(line: Buffer): Buffer {
  const text = line.toString('latin1');
  if (!text.startsWith('diff --git a/') || !text.endsWith('\n')) return line;
  const names = text.slice(HEADER.length, -1);
  // No renames: both sides are the same path, so the split is in the middle.
  const half = (names.length - 1) / 2;
  if (!Number.isInteger(half) || names[half] !== ' ') return line;
  const a = names.slice(0, half);
  const b = names.slice(half + 1);
  if (!b.startsWith('b/') || a.slice(2) !== b.slice(2) || !a.includes(' ')) return line;
  // Unquoted means git found nothing to escape: no `"`, `\`, control or non-ASCII bytes.
  return Buffer.from(`diff --git "${a}" "${b}"\n`, 'latin1');
}
