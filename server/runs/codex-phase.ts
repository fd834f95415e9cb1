import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Sandbox } from '../sandbox/driver.js';
import { applyCodexEvent, emptyOutcome, type CodexOutcome } from './codex-outcome.js';
import type { EventLog } from './event-log.js';
import { lineSplitter, tailBuffer } from './line-splitter.js';

/** `codex exec` exits 0 after `turn.completed` and 1 after `turn.failed` (reference/codex-cli.md). */
const EXIT_CODE_AFTER = { completed: 0, failed: 1 } as const;

/**
 * How long Codex may take to exit once its turn is over (its terminal event) before the sandbox is
 * frozen under it. It exits within milliseconds here, and the sandbox's main process then ends the
 * rest and reports: cheaper than a freeze, and sooner.
 */
const EXIT_AFTER_TURN_MS = 1_000;

/**
 * Codex's run in the sandbox, as the sandbox's main command, and the end of everything else there:
 * once Codex has exited the sandbox has stopped with it, and once its turn is over (its terminal
 * event) and it has not exited within EXIT_AFTER_TURN_MS, the sandbox is frozen, so that nothing the
 * run left behind writes into the event stream, the result or the workspace about to be read. Lines
 * that come after the terminal event are counted as dropped, never taken. Lines still in the pipe
 * when Codex's exit is seen are taken: they were written before the sandbox stopped, and Codex's own
 * last ones (its final message, its terminal event) are among them when the exit is seen before its
 * output is read.
 */
export class CodexPhase {
  outcome: CodexOutcome = emptyOutcome();
  private readonly stderr = tailBuffer();
  private exited = false;
  private warnedNotJson = false;
  private markTurnOver!: () => void;
  private readonly turnOver = new Promise<void>((resolve) => (this.markTurnOver = resolve));

  constructor(
    private readonly events: EventLog,
    private readonly maxLineBytes: number,
    private readonly log: Logger,
    /** Called when Codex has printed nothing for `ms`: a hung tool, a provider that never answers. */
    private readonly idle: { ms: number; onIdle: () => void } = { ms: 0, onIdle: () => {} },
  ) {}

  stderrText(): string {
    return this.stderr.text();
  }

  /**
   * Runs Codex; resolves with its exit code once it exited or, its turn over, the sandbox is frozen.
   * `prompt` goes to Codex's stdin (its argv ends with `-`), never into its argv.
   */
  async run(sandbox: Sandbox, codex: { argv: string[]; env: string[]; prompt: string }, signal: AbortSignal): Promise<number> {
    const { argv, env, prompt } = codex;
    let idleTimer: NodeJS.Timeout | undefined;
    const active = () => {
      clearTimeout(idleTimer);
      if (this.idle.ms > 0 && !this.outcome.turnEnded && !this.exited) idleTimer = setTimeout(this.idle.onIdle, this.idle.ms);
    };
    active();
    const stdout = lineSplitter({
      maxLineBytes: this.maxLineBytes,
      onLine: (line) => {
        active();
        this.take(line);
      },
      onOversized: () => {
        active();
        this.events.countDropped('line_too_long');
      },
      // Waits for the event file to take what it has: the Docker stream, then Codex's stdout, slow down.
      ready: () => this.events.ready(),
    });
    const stopMain = new AbortController();
    const main = sandbox.runMain(argv, {
      env,
      stdin: prompt,
      stdout,
      stderr: this.stderr,
      signal: AbortSignal.any([signal, stopMain.signal]),
      onExit: () => {
        this.exited = true;
      },
    });
    main.catch(() => {}); // settled below either way
    try {
      const exited = main.then((code) => ({ code }));
      const first = await Promise.race([exited, this.turnOver.then(() => null)]);
      if (first) return first.code;
      // The turn is over: Codex has nothing left to do but exit. Past a moment, freeze rather than
      // wait for it, and take the exit code its terminal event stands for.
      const grace = new AbortController();
      const soon = await Promise.race([exited.catch(() => null), sleep(EXIT_AFTER_TURN_MS, null, { signal: grace.signal })]).finally(() => grace.abort());
      if (soon) return soon.code;
      await sandbox.freeze();
      stopMain.abort(new Error('codex turn ended; sandbox frozen'));
      return await main.catch((err: unknown) => {
        if (signal.aborted) throw err;
        return this.outcome.failure === null ? EXIT_CODE_AFTER.completed : EXIT_CODE_AFTER.failed;
      });
    } finally {
      clearTimeout(idleTimer);
      stdout.end();
      await finished(stdout).catch(() => {});
    }
  }

  private take(line: string): void {
    const event = parseEvent(line);
    if (!event) {
      // Anything in the sandbox can write here: warn once, not once per line of a flood.
      if (!this.warnedNotJson) this.log.warn({ line: line.slice(0, 200) }, 'codex printed a line that is not JSON');
      this.warnedNotJson = true;
      return;
    }
    // After Codex's turn ended, lines come from whatever else holds its stdout.
    if (this.outcome.turnEnded) return this.events.countDropped('after_codex_ended');
    // Past the event log's limits the event is only counted; the outcome still sees it.
    this.events.append('codex', event);
    this.outcome = applyCodexEvent(this.outcome, event);
    if (this.outcome.turnEnded) this.markTurnOver();
  }
}

function parseEvent(line: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(line);
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}
