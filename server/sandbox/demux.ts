import type { Writable } from 'node:stream';
import { once } from 'node:events';

const HEADER_BYTES = 8;

/**
 * Splits Docker's multiplexed attach stream (8-byte frame header: stream type, 3 zero bytes,
 * big-endian payload length) into stdout and stderr. Unlike docker-modem's demuxStream it waits
 * for a slow sink to drain, so a large diff or event burst is never buffered whole.
 */
export async function demuxDockerStream(source: AsyncIterable<Buffer> | Iterable<Buffer>, stdout?: Writable, stderr?: Writable): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= HEADER_BYTES) {
      const size = pending.readUInt32BE(4);
      if (pending.length < HEADER_BYTES + size) break;
      const sink = pending[0] === 2 ? stderr : stdout;
      const payload = pending.subarray(HEADER_BYTES, HEADER_BYTES + size);
      pending = pending.subarray(HEADER_BYTES + size);
      if (sink && !sink.write(payload)) await once(sink, 'drain');
    }
  }
}
