import type { Config } from '../config/config.js';
import { resumeEventFile } from './event-log-resume.js';
import { EventLog, replayEventFile, type EventLogLimits, type RunEvent, type RunEventKind } from './event-log.js';
import type { Run } from './run.js';
import { holdWhileOpen, StreamSlots, type HeldStream } from './stream-slots.js';

/** Where runs' event logs get their limits and readers their slots: the config's view of events. */
export class EventStreams {
  private readonly slots: StreamSlots;
  private readonly limits: EventLogLimits;

  constructor(limits: Pick<Config['limits'], 'runMaxEvents' | 'runMaxEventLogMb' | 'eventLineMaxKb' | 'maxEventStreamsPerTenant'>) {
    this.slots = new StreamSlots(limits.maxEventStreamsPerTenant);
    this.limits = {
      maxCodexEvents: limits.runMaxEvents,
      maxBytes: limits.runMaxEventLogMb * 1024 * 1024,
      // Room for the event's envelope around the Codex line the splitter let through.
      maxLineBytes: limits.eventLineMaxKb * 1024 + 4096,
    };
  }

  /** A new run's log; `onDropped` is told each new count of Codex events not stored. */
  createLog(path: string, onDropped: (dropped: number) => void): EventLog {
    return new EventLog(path, this.limits, onDropped);
  }

  /** The log of a run accepted before a restart, going on where its file left off. */
  async resumeLog(path: string, onDropped: (dropped: number) => void): Promise<EventLog> {
    return new EventLog(path, this.limits, onDropped, (await resumeEventFile(path)) ?? undefined);
  }

  /** Appends one event to an ended run's file, after its last whole line (one its writer could not write). */
  async appendToEnded(path: string, kind: RunEventKind, data: unknown): Promise<void> {
    const log = await this.resumeLog(path, () => {});
    log.append(kind, data);
    await log.close();
  }

  /** Follows the live log when there is one, else replays the ended run's file; holds one of the tenant's slots. */
  open(run: Pick<Run, 'tenant'>, source: { live?: EventLog; file: string }, afterSeq: number, signal?: AbortSignal): HeldStream<RunEvent> {
    const release = this.slots.acquire(run.tenant);
    const events = source.live ? source.live.read(afterSeq, signal) : replayEventFile(source.file, afterSeq, this.limits.maxLineBytes, signal);
    return holdWhileOpen(events, release);
  }

  count(tenant: string): number {
    return this.slots.count(tenant);
  }
}
