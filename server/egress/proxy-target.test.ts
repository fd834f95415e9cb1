import { describe, expect, it } from 'vitest';
import { endToEndHeaders, parseConnectTarget, parseForwardTarget } from './proxy-target.js';

describe('parseConnectTarget', () => {
  it.each([
    ['example.com:443', { host: 'example.com', port: 443 }],
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['[::1]:443', { host: '[::1]', port: 443 }],
  ])('reads %s', (url, want) => expect(parseConnectTarget(url)).toEqual(want));

  it.each([undefined, '', 'example.com', 'example.com:', ':443', 'example.com:0', 'example.com:65536', 'user@example.com:443', 'http://example.com:443', 'example.com:443/x', '::1:443', 'a b:443'])(
    'refuses %j',
    (url) => expect(parseConnectTarget(url)).toBeNull(),
  );
});

describe('parseForwardTarget', () => {
  it('reads an absolute http:// target, port 80 by default', () => {
    expect(parseForwardTarget('http://Example.com/a/b?c=1')).toEqual({ host: 'example.com', port: 80, path: '/a/b?c=1', authority: 'example.com' });
    expect(parseForwardTarget('http://127.0.0.1:8080/')).toEqual({ host: '127.0.0.1', port: 8080, path: '/', authority: '127.0.0.1:8080' });
    expect(parseForwardTarget('http://[::1]:81/x')).toMatchObject({ host: '[::1]', port: 81 });
  });

  it.each([undefined, '/', '/path', 'https://example.com/', 'ftp://example.com/', 'http://', 'http://[::1/'])('refuses %j', (url) => {
    expect(parseForwardTarget(url)).toBeNull();
  });
});

describe('endToEndHeaders', () => {
  it('drops hop-by-hop headers and those the Connection header names', () => {
    expect(
      endToEndHeaders({
        host: 'x',
        accept: '*/*',
        connection: 'keep-alive, X-Secret',
        'x-secret': 'drop me',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic Zm9v',
        'proxy-connection': 'keep-alive',
        'transfer-encoding': 'chunked',
        te: 'trailers',
        upgrade: 'websocket',
        'set-cookie': ['a=1', 'b=2'],
      }),
    ).toEqual({ host: 'x', accept: '*/*', 'set-cookie': ['a=1', 'b=2'] });
  });
});
