// Where progress goes (stderr, so stdout keeps only the result): on a terminal, event lines scroll
// above one status line that is redrawn in place; elsewhere (CI, a pipe), plain timestamped lines.
import { createLogUpdate } from 'log-update';
import { eventLine, initialProgress, nextProgress, plainLine, statusLine, type ProgressState, type StreamEvent } from './progress-text.js';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const REDRAW_MS = 100;

export interface ProgressDisplay {
  event(event: StreamEvent): void;
  note(text: string): void;
  /** Removes the status line; later output is plain. */
  stop(): void;
}

export function createProgressDisplay(stream: NodeJS.WriteStream, startedAt = Date.now()): ProgressDisplay {
  // A terminal that reports no width (a pty nobody sized) would get every redraw cut to nothing.
  return stream.isTTY && stream.columns > 0 ? new TerminalProgress(stream, startedAt) : new PlainProgress(stream, startedAt);
}

class PlainProgress implements ProgressDisplay {
  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly startedAt: number,
  ) {}

  event(event: StreamEvent): void {
    const line = eventLine(event);
    if (line !== null) this.note(line);
  }

  note(text: string): void {
    const now = new Date();
    this.stream.write(`${plainLine(text, now, now.getTime() - this.startedAt)}\n`);
  }

  stop(): void {}
}

class TerminalProgress implements ProgressDisplay {
  private state: ProgressState = initialProgress;
  private frame = 0;
  private readonly status: ReturnType<typeof createLogUpdate>;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly startedAt: number,
  ) {
    this.status = createLogUpdate(stream);
    this.timer = setInterval(() => this.draw(), REDRAW_MS);
    this.timer.unref();
  }

  event(event: StreamEvent): void {
    this.state = nextProgress(this.state, event);
    const line = eventLine(event);
    if (line !== null) this.note(line);
    else this.draw();
  }

  note(text: string): void {
    this.status.clear();
    this.stream.write(`${text}\n`);
    this.draw();
  }

  stop(): void {
    clearInterval(this.timer);
    this.status.clear();
    this.status.done();
  }

  private draw(): void {
    const spinner = SPINNER[this.frame++ % SPINNER.length]!;
    this.status(statusLine(this.state, Date.now() - this.startedAt, this.stream.columns - 1, spinner));
  }
}
