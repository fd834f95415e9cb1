// Incremental server-sent-events decoder: bytes in, complete `data` payloads out. Chunk
// boundaries fall anywhere (mid-line, mid-UTF-8 sequence, between CR and LF), so state carries over.
// Line endings, comments and field parsing follow the WHATWG HTML "server-sent events" section.

export class SseDataDecoder {
  private readonly text = new TextDecoder();
  private pending = '';
  private data: string[] = [];
  /** The last chunk ended in CR: an LF opening the next one belongs to that CRLF, not a blank line. */
  private afterCr = false;

  /** Feeds bytes; returns the data of each event completed by them, in order. */
  push(chunk: Uint8Array): string[] {
    return this.drain(this.text.decode(chunk, { stream: true }), false);
  }

  /** Flushes what is left at end of stream; an event missing its closing blank line still counts. */
  end(): string[] {
    const events = this.drain(this.text.decode(), true);
    if (this.data.length > 0) events.push(this.data.join('\n'));
    this.data = [];
    return events;
  }

  private drain(text: string, final: boolean): string[] {
    if (this.afterCr && text.startsWith('\n')) text = text.slice(1);
    if (text !== '') this.afterCr = text.endsWith('\r');
    const lines = (this.pending + text).split(/\r\n|\r|\n/);
    this.pending = final ? '' : (lines.pop() ?? '');
    const events: string[] = [];
    for (const line of lines) {
      if (line === '') {
        if (this.data.length > 0) events.push(this.data.join('\n'));
        this.data = [];
      } else if (!line.startsWith(':')) {
        // Lines starting with ':' are comments (`: keep-alive`, OpenRouter's `: OPENROUTER PROCESSING`).
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') this.data.push(value);
      }
    }
    return events;
  }
}
