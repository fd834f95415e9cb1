import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, logDestination, prettyDestination } from './logger.js';

describe('logger', () => {
  it('writes readable lines through the pretty destination, and still redacts secrets', () => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const log = createLogger('info', prettyDestination(sink, false));
    log.info({ runId: 'run_1', token: 'tok-secret', headers: { authorization: 'Bearer tok-secret' } }, 'run started');
    const text = Buffer.concat(chunks).toString();
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: run started\n/);
    expect(text).toContain('runId: "run_1"');
    expect(text).toContain('[redacted]');
    expect(text).not.toContain('tok-secret');
    expect(() => JSON.parse(text.split('\n')[0]!)).toThrow();
  });

  it('keeps pino JSON when stdout is not a terminal', () => {
    expect(logDestination({ isTTY: false } as NodeJS.WriteStream)).toBeUndefined();
    expect(logDestination(Object.assign(new PassThrough(), { isTTY: true }) as unknown as NodeJS.WriteStream)).toBeDefined();
  });
});
