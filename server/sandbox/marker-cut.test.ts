import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MarkerCut } from './marker-cut.js';

const MARKER = Buffer.from('\0end:tok:');

function collecting() {
  const chunks: string[] = [];
  const target = new Writable({
    write(chunk: Buffer, _enc, callback) {
      chunks.push(chunk.toString('latin1'));
      callback();
    },
  });
  return { target, chunks, text: () => chunks.join('') };
}

async function feed(cut: MarkerCut, parts: string[]): Promise<void> {
  for (const part of parts) await new Promise<void>((resolve, reject) => cut.write(Buffer.from(part, 'latin1'), (err) => (err ? reject(err) : resolve())));
}

describe('MarkerCut', () => {
  it('passes what comes before the marker, takes the rest of its line as the report and drops what follows', async () => {
    const { target, text } = collecting();
    const cut = new MarkerCut(MARKER, target);
    await feed(cut, ['{"a":1}\n{"b":2}\n\0end:tok:3:quiet\nforged\n', 'more\n']);
    await expect(cut.report).resolves.toBe('3:quiet');
    expect(text()).toBe('{"a":1}\n{"b":2}\n');
  });

  it('finds a marker and a report split across writes, at every split', async () => {
    const whole = 'line one\n\0end:tok:0:busy\nafter';
    for (let i = 1; i < whole.length; i++) {
      for (let j = i; j < whole.length; j++) {
        const { target, text } = collecting();
        const cut = new MarkerCut(MARKER, target);
        await feed(cut, [whole.slice(0, i), whole.slice(i, j), whole.slice(j)].filter(Boolean));
        await expect(cut.report).resolves.toBe('0:busy');
        expect(text()).toBe('line one\n');
      }
    }
  });

  it('holds back nothing of a write that cannot begin a marker: each line reaches the target with its write', async () => {
    const { target, chunks } = collecting();
    const cut = new MarkerCut(MARKER, target);
    await feed(cut, ['{"type":"turn.completed"}\n']);
    expect(chunks).toEqual(['{"type":"turn.completed"}\n']);
  });

  it('passes a near miss on, and what it held back at its end', async () => {
    const { target, text } = collecting();
    const cut = new MarkerCut(MARKER, target);
    await feed(cut, ['a\0end:other:1\n', 'b\0en']);
    await new Promise<void>((resolve) => cut.end(resolve));
    expect(text()).toBe('a\0end:other:1\nb\0en');
    await expect(cut.report).rejects.toThrow(/before its marker/);
  });

  it('refuses a report with no end in sight', async () => {
    const cut = new MarkerCut(MARKER, undefined);
    await feed(cut, [`\0end:tok:${'9'.repeat(100)}`]);
    await expect(cut.report).rejects.toThrow(/too long/);
  });

  it('waits for a slow target to drain', async () => {
    let release!: () => void;
    const target = new Writable({
      highWaterMark: 1,
      write(_chunk, _enc, callback) {
        release = callback;
      },
    });
    const cut = new MarkerCut(MARKER, target);
    let done = false;
    const written = feed(cut, ['xx']).then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(done).toBe(false);
    release();
    await written;
    expect(done).toBe(true);
  });

  it('passes on what it held back when released, and takes nothing after', async () => {
    const { target, text } = collecting();
    const cut = new MarkerCut(MARKER, target);
    await feed(cut, ['x\0en']);
    cut.release();
    await feed(cut, ['d:tok:0:quiet\n', 'y']);
    expect(text()).toBe('x\0en');
    await expect(cut.report).rejects.toThrow(/before its marker/);
  });

  it('passes what follows the report to the next sink, whatever the writes', async () => {
    const { target, text } = collecting();
    const next = collecting();
    const cut = new MarkerCut(MARKER, target, next.target);
    await feed(cut, ['a\n\0end:t', 'ok:0:quiet:tar\nTAR', 'BYTES\0\0']);
    await expect(cut.report).resolves.toBe('0:quiet:tar');
    expect(text()).toBe('a\n');
    expect(next.text()).toBe('TARBYTES\0\0');
  });
});
