import type tar from 'tar-stream';

type EntryHeader = { size?: number; type?: tar.Header['type'] | null };
type EntryBody = tar.ExtractEvents['entry'][1];

/** Discards an entry's body; resolves once tar-stream has moved past it. */
export async function drainEntry(header: EntryHeader, body: EntryBody): Promise<void> {
  body.resume();
  // tar-stream never ends the body of a directory whose size field is non-zero (it does not
  // read directory data), so waiting for `end` there would hang the whole extract.
  if (header.type === 'directory' || !header.size) return;
  await new Promise<void>((resolve, reject) => {
    body.once('end', resolve);
    body.once('error', reject);
  });
}
