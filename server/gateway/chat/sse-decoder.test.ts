import { describe, expect, it } from 'vitest';
import { SseDataDecoder } from './sse-decoder.js';

const bytes = (s: string) => new TextEncoder().encode(s);

/** Feeds the text one byte at a time: every boundary a network could cut at. */
function decodeBytewise(text: string): string[] {
  const decoder = new SseDataDecoder();
  const all = bytes(text);
  const events: string[] = [];
  for (let i = 0; i < all.length; i++) events.push(...decoder.push(all.subarray(i, i + 1)));
  return [...events, ...decoder.end()];
}

describe('SseDataDecoder', () => {
  it('returns each event once its blank line arrives, across any chunk boundary', () => {
    expect(decodeBytewise('data: {"a":1}\n\ndata: {"b":"é✓"}\n\ndata: [DONE]\n\n')).toEqual(['{"a":1}', '{"b":"é✓"}', '[DONE]']);
  });

  it('treats CRLF and lone CR as line ends, even when CR and LF arrive apart', () => {
    expect(decodeBytewise('data: 1\r\n\r\ndata: 2\r\rdata: 3\n\n')).toEqual(['1', '2', '3']);
    const decoder = new SseDataDecoder();
    expect(decoder.push(bytes('data: x\r'))).toEqual([]);
    expect(decoder.push(bytes('\n'))).toEqual([]); // the LF of a CRLF, not a blank line
    expect(decoder.push(bytes('\r\n'))).toEqual(['x']);
  });

  it('skips comments and other fields, and joins multi-line data', () => {
    expect(decodeBytewise(': keep-alive\n\nevent: message\nid: 7\ndata: a\ndata:b\nretry: 10\n\n')).toEqual(['a\nb']);
  });

  it('hands over an event left without its blank line at the end', () => {
    const decoder = new SseDataDecoder();
    expect(decoder.push(bytes('data: last'))).toEqual([]);
    expect(decoder.end()).toEqual(['last']);
  });
});
