import { describe, expect, it } from 'vitest';
import { parseSse, SseDecoder, type SseEvent } from './sse-events.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const dataOf = (events: SseEvent[]) => events.map((e) => e.data);

/** Feeds the text one byte at a time: every boundary a network could cut at. */
function decodeBytewise(text: string): SseEvent[] {
  const decoder = new SseDecoder();
  const all = bytes(text);
  const events: SseEvent[] = [];
  for (let i = 0; i < all.length; i++) events.push(...decoder.push(all.subarray(i, i + 1)));
  return [...events, ...decoder.end()];
}

describe('SseDecoder', () => {
  it('returns each event once its blank line arrives, across any chunk boundary', () => {
    expect(dataOf(decodeBytewise('data: {"a":1}\n\ndata: {"b":"é✓"}\n\ndata: [DONE]\n\n'))).toEqual(['{"a":1}', '{"b":"é✓"}', '[DONE]']);
  });

  it('treats CRLF and lone CR as line ends, even when CR and LF arrive apart', () => {
    expect(dataOf(decodeBytewise('data: 1\r\n\r\ndata: 2\r\rdata: 3\n\n'))).toEqual(['1', '2', '3']);
    const decoder = new SseDecoder();
    expect(decoder.push(bytes('data: x\r'))).toEqual([]);
    expect(decoder.push(bytes('\n'))).toEqual([]); // the LF of a CRLF, not a blank line
    expect(dataOf(decoder.push(bytes('\r\n')))).toEqual(['x']);
  });

  it('skips comments and other fields, and joins multi-line data', () => {
    expect(dataOf(decodeBytewise(': keep-alive\n\nevent: message\nid: 7\ndata: a\ndata:b\nretry: 10\n\n'))).toEqual(['a\nb']);
  });

  it('hands over an event left without its blank line at the end', () => {
    const decoder = new SseDecoder();
    expect(decoder.push(bytes('data: last'))).toEqual([]);
    expect(dataOf(decoder.end())).toEqual(['last']);
  });

  it('gives each event its own event and id fields, and drops events without data', () => {
    const text = 'id: 1\nevent: run\ndata: {"a":1}\n\nevent: orphan\n\ndata: plain\n\nid: 3\nevent: codex\ndata: x\n\n';
    expect(decodeBytewise(text)).toEqual([{ id: '1', event: 'run', data: '{"a":1}' }, { data: 'plain' }, { id: '3', event: 'codex', data: 'x' }]);
  });
});

describe('parseSse', () => {
  it('parses a whole body, text in', () => {
    expect(parseSse('event: response.created\ndata: {}\n\nevent: response.completed\ndata: {"b":2}')).toEqual([
      { event: 'response.created', data: '{}' },
      { event: 'response.completed', data: '{"b":2}' },
    ]);
  });
});
