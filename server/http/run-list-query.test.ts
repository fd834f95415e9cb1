import { describe, expect, it } from 'vitest';
import { encodeCursor, parseRunListQuery } from './run-list-query.js';

const cursor = { createdAt: new Date('2025-03-04T05:06:07.089Z'), id: 'run_0123456789abcdef0123' };

describe('parseRunListQuery', () => {
  it('defaults to 20 runs of any status from the newest', () => {
    expect(parseRunListQuery({})).toEqual({ status: undefined, limit: 20 });
  });

  it('takes a status, a limit up to 100 and a cursor it gave', () => {
    expect(parseRunListQuery({ status: 'queued', limit: '100', cursor: encodeCursor(cursor) })).toEqual({ status: 'queued', limit: 100, after: cursor });
    expect(parseRunListQuery({ limit: '1' }).limit).toBe(1);
  });

  it.each([
    [{ limit: '0' }, /limit/],
    [{ limit: '101' }, /limit/],
    [{ limit: '-1' }, /limit/],
    [{ limit: '2.5' }, /limit/],
    [{ limit: 'ten' }, /limit/],
    [{ limit: '' }, /limit/],
    [{ status: 'done' }, /status/],
    [{ cursor: 'not-a-cursor' }, /cursor/],
    [{ cursor: '' }, /cursor/],
    [{ cursor: Buffer.from('12.run_x').toString('base64url') }, /cursor/],
    [{ cursor: '%%%' }, /cursor/],
  ])('refuses %o with a 400 naming the parameter', (query, name) => {
    expect(() => parseRunListQuery(query)).toThrow(expect.objectContaining({ code: 'bad_request', message: expect.stringMatching(name) }));
  });

  it('makes a cursor that is opaque base64url', () => {
    expect(encodeCursor(cursor)).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
