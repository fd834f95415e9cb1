import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { demuxDockerStream } from './demux.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function sink() {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    highWaterMark: 4,
    write(chunk, _enc, cb) {
      chunks.push(chunk);
      setImmediate(cb);
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

describe('demuxDockerStream', () => {
  it('routes frames to stdout and stderr, even when split across chunks', async () => {
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'oops'), frame(1, 'world')]);
    const chunks = [all.subarray(0, 3), all.subarray(3, 11), all.subarray(11, 20), all.subarray(20)];
    const out = sink();
    const err = sink();
    await demuxDockerStream(chunks, out.stream, err.stream);
    expect(out.text()).toBe('hello world');
    expect(err.text()).toBe('oops');
  });

  it('waits for a slow sink instead of buffering', async () => {
    const source = new PassThrough();
    const out = sink();
    const done = demuxDockerStream(source, out.stream);
    for (let i = 0; i < 50; i++) source.write(frame(1, `line ${i}\n`));
    source.end();
    await done;
    expect(out.text().split('\n').filter(Boolean)).toHaveLength(50);
  });
});
