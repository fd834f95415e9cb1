// Incremental server-sent-events parser: bytes (or text) in, complete events out. Chunk boundaries
// fall anywhere (mid-line, mid-UTF-8 sequence, between CR and LF), so state carries over. Line
// endings, comments, field parsing and when an event is dispatched follow the WHATWG HTML
// "server-sent events" section. The gateway reads upstream streams with it; tests read ours.

export interface SseEvent {
  /** The `event` field, if the event had one (the spec's default type is "message"). */
  event?: string;
  /** The `id` field, if this event had one. */
  id?: string;
  /** The `data` lines, joined with LF. */
  data: string;
}

export class SseDecoder {
  private readonly text = new TextDecoder();
  private pending = '';
  /** The last chunk ended in CR: an LF opening the next one belongs to that CRLF, not a blank line. */
  private afterCr = false;
  private data: string[] = [];
  private event: string | undefined;
  private id: string | undefined;

  /** Feeds bytes or text; returns the events completed by them, in order. */
  push(chunk: Uint8Array | string): SseEvent[] {
    return this.drain(typeof chunk === 'string' ? chunk : this.text.decode(chunk, { stream: true }), false);
  }

  /** Flushes what is left at end of stream; an event missing its closing blank line still counts. */
  end(): SseEvent[] {
    const events = this.drain(this.text.decode(), true);
    this.dispatch(events);
    return events;
  }

  private drain(text: string, final: boolean): SseEvent[] {
    if (this.afterCr && text.startsWith('\n')) text = text.slice(1);
    if (text !== '') this.afterCr = text.endsWith('\r');
    const lines = (this.pending + text).split(/\r\n|\r|\n/);
    this.pending = final ? '' : (lines.pop() ?? '');
    const events: SseEvent[] = [];
    for (const line of lines) {
      if (line === '') this.dispatch(events);
      // Lines starting with ':' are comments (`: keep-alive`, OpenRouter's `: OPENROUTER PROCESSING`).
      else if (!line.startsWith(':')) this.field(line);
    }
    return events;
  }

  private field(line: string): void {
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') this.data.push(value);
    else if (name === 'event') this.event = value;
    else if (name === 'id') this.id = value;
  }

  /** A blank line ends an event; one without data is dropped, as the spec says. */
  private dispatch(into: SseEvent[]): void {
    if (this.data.length > 0) {
      const event: SseEvent = { data: this.data.join('\n') };
      if (this.event !== undefined) event.event = this.event;
      if (this.id !== undefined) event.id = this.id;
      into.push(event);
    }
    this.data = [];
    this.event = undefined;
    this.id = undefined;
  }
}

/** Parses a whole SSE body. */
export function parseSse(text: string): SseEvent[] {
  const decoder = new SseDecoder();
  return [...decoder.push(text), ...decoder.end()];
}
