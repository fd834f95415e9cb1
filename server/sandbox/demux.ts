import type { Writable } from 'node:stream';
import { once } from 'node:events';

const HEADER_BYTES = 8;

/**
 * Splits Docker's multiplexed attach stream (8-byte frame header: stream type, 3 zero bytes,
 * big-endian payload length) into stdout and stderr. Unlike docker-modem's demuxStream it waits
 * for a slow sink to drain, so a large diff or event burst is never buffered whole. A payload is
 * passed on in the slices the chunks bring, never copied whole: a tree's tar comes this way.
 */
export async function demuxDockerStream(source: AsyncIterable<Buffer> | Iterable<Buffer>, stdout?: Writable, stderr?: Writable): Promise<void> {
  let header: Buffer = Buffer.alloc(0);
  let payloadLeft = 0;
  let sink: Writable | undefined;
  for await (const chunk of source) {
    let at = 0;
    while (at < chunk.length) {
      if (payloadLeft === 0) {
        const take = Math.min(HEADER_BYTES - header.length, chunk.length - at);
        header = header.length ? Buffer.concat([header, chunk.subarray(at, at + take)]) : chunk.subarray(at, at + take);
        at += take;
        if (header.length < HEADER_BYTES) break;
        sink = header[0] === 2 ? stderr : stdout;
        payloadLeft = header.readUInt32BE(4);
        header = Buffer.alloc(0);
        continue;
      }
      const take = Math.min(payloadLeft, chunk.length - at);
      const payload = chunk.subarray(at, at + take);
      at += take;
      payloadLeft -= take;
      if (sink && !sink.write(payload)) await once(sink, 'drain');
    }
  }
}
