import type { Readable } from 'node:stream';

/** A page of a diff: whole lines when they fit, and where the next page starts (null on the last). */
export interface DiffPage {
  text: string;
  offset: number;
  nextOffset: number | null;
}

/**
 * Reads `maxBytes` of the stream from byte `offset`, cut after the page's last newline (or, for a
 * longer line, before a split UTF-8 character), and destroys the stream: a diff is never held
 * whole, whatever its size.
 */
export async function readDiffPage(stream: Readable, offset: number, maxBytes: number): Promise<DiffPage> {
  const chunks: Buffer[] = [];
  let skipped = 0;
  let kept = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let piece = chunk;
      if (skipped < offset) {
        const skip = Math.min(offset - skipped, piece.length);
        skipped += skip;
        piece = piece.subarray(skip);
      }
      if (!piece.length) continue;
      chunks.push(piece);
      kept += piece.length;
      // One byte past the page says whether there is more.
      if (kept > maxBytes) break;
    }
  } finally {
    stream.destroy();
  }
  const bytes = Buffer.concat(chunks);
  if (bytes.length <= maxBytes) return { text: bytes.toString('utf8'), offset, nextOffset: null };
  const cut = pageEnd(bytes, maxBytes);
  return { text: bytes.subarray(0, cut).toString('utf8'), offset, nextOffset: offset + cut };
}

function pageEnd(bytes: Buffer, maxBytes: number): number {
  const newline = bytes.lastIndexOf(0x0a, maxBytes - 1);
  if (newline >= 0) return newline + 1;
  let end = maxBytes;
  // Back over UTF-8 continuation bytes (10xxxxxx) to the start of the character the cut would split.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return end || maxBytes;
}
