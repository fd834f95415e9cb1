import { Writable } from 'node:stream';
import { afterDrainOrClose } from './drain-or-close.js';

/** How much may follow a marker before its line's end: a report is a few words. */
const MAX_REPORT_BYTES = 64;

/**
 * A sink that passes what it is given to `target` until `marker`, and then takes the rest of that
 * line as a report (`report`), passing whatever follows to `next` (dropped without one). A marker
 * split across writes is found too; what is held back meanwhile is only ever a possible start of
 * one, so the bytes of anything else reach the target with the write that brought them. Neither
 * target is ended with it.
 */
export class MarkerCut extends Writable {
  /** The report: the rest of the marker's line, without its newline. Rejects if the sink ends first. */
  readonly report: Promise<string>;
  private resolveReport!: (line: string) => void;
  private rejectReport!: (err: Error) => void;
  private held: Buffer = Buffer.alloc(0);
  private line: Buffer | null = null;
  private settled = false;

  private passingOn = false;

  constructor(
    private readonly marker: Buffer,
    private readonly target: Writable | undefined,
    private readonly next?: Writable,
  ) {
    super();
    this.report = new Promise((resolve, reject) => {
      this.resolveReport = resolve;
      this.rejectReport = reject;
    });
    this.report.catch(() => {}); // a cut nobody asks for its report
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.passingOn) return this.pass(chunk, callback, this.next);
    if (this.settled) return callback();
    if (this.line) return this.takeLine(chunk, callback);
    const held = this.held;
    if (!held.length) return this.scan(chunk, callback);
    this.held = Buffer.alloc(0);
    // A short write: joined whole, it is cheap.
    if (chunk.length < this.marker.length) return this.scan(Buffer.concat([held, chunk]), callback);
    // Else only where the held bytes meet the write can a marker start in them: no copy of the rest.
    const head = Buffer.concat([held, chunk.subarray(0, this.marker.length)]);
    const at = head.indexOf(this.marker);
    if (at >= 0 && at < held.length) {
      this.line = Buffer.alloc(0);
      const after = at + this.marker.length - held.length;
      return this.pass(held.subarray(0, at), (err) => (err ? callback(err) : this.takeLine(chunk.subarray(after), callback)));
    }
    this.pass(held, (err) => (err ? callback(err) : this.scan(chunk, callback)));
  }

  /** Looks for the marker within `data`; holds back a tail that may begin one. */
  private scan(data: Buffer, callback: (error?: Error | null) => void): void {
    const at = data.indexOf(this.marker);
    if (at >= 0) {
      this.line = Buffer.alloc(0);
      return this.pass(data.subarray(0, at), (err) => (err ? callback(err) : this.takeLine(data.subarray(at + this.marker.length), callback)));
    }
    const keep = this.possibleStart(data);
    this.held = Buffer.from(data.subarray(keep));
    this.pass(data.subarray(0, keep), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.release(callback);
  }

  /**
   * Done with it, ended or not: passes on what it held back, and drops whatever comes after. Its
   * writer may go on writing, and is never held up.
   */
  release(callback: (error?: Error | null) => void = () => {}): void {
    if (!this.settled) this.rejectReport(new Error('ended before its marker'));
    this.settled = true;
    this.passingOn = false;
    const held = this.held;
    this.held = Buffer.alloc(0);
    this.pass(held, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.settled) this.rejectReport(error ?? new Error('ended before its marker'));
    this.settled = true;
    callback(error);
  }

  private takeLine(chunk: Buffer, callback: (error?: Error | null) => void): void {
    const line = Buffer.concat([this.line!, chunk]);
    const end = line.indexOf(0x0a);
    if (end >= 0 && end <= MAX_REPORT_BYTES) {
      this.settled = true;
      this.resolveReport(line.subarray(0, end).toString('latin1'));
      if (this.next) {
        this.passingOn = true;
        return this.pass(line.subarray(end + 1), callback, this.next);
      }
    } else if (end > MAX_REPORT_BYTES || (end < 0 && line.length > MAX_REPORT_BYTES)) {
      this.settled = true;
      this.rejectReport(new Error('its report is too long'));
    } else {
      this.line = line;
    }
    callback();
  }

  /** Where the longest tail of `data` that may begin the marker starts (data.length: none). */
  private possibleStart(data: Buffer): number {
    for (let from = Math.max(0, data.length - this.marker.length + 1); from < data.length; from++) {
      if (data[from] === this.marker[0] && this.marker.subarray(0, data.length - from).equals(data.subarray(from))) return from;
    }
    return data.length;
  }

  private pass(bytes: Buffer, callback: (error?: Error | null) => void, target = this.target): void {
    if (!bytes.length || !target || target.destroyed) return callback();
    if (target.write(bytes)) return callback();
    afterDrainOrClose(target, callback);
  }
}
