// Test support: a scripted SandboxDriver for unit tests of the run service and the executor, so
// cancel, timeout, the gateway's stop and removal failures are tested without Docker. Named test-*
// so the server build and image leave it out, like the other test-*.ts modules.
import { Readable, type Writable } from 'node:stream';
import { buildTar, dir, file } from '../archive/test-tarballs.js';
import { COLLECT_CODEX_HOME, COLLECT_DIR, COLLECT_WORKSPACE, SandboxTreeError, type BoundedTree, type ExecOptions, type Sandbox, type SandboxDriver, type SandboxError, type SandboxRequest, type SweepResult } from '../sandbox/driver.js';

/** What `codex exec` does in a fake sandbox: writes its JSONL to `stdout`, returns its exit code. */
export type FakeCodex = (io: { stdout: Writable; signal: AbortSignal; sandbox: FakeSandbox; stdin: string | undefined }) => Promise<number>;

export interface FakeSandboxScript {
  codex?: FakeCodex;
  /** The workspace as the run leaves it: path → content. */
  workspace?: Record<string, string>;
  /** $CODEX_HOME as the run leaves it (`sessions/…` is its session): path → content. */
  codexHome?: Record<string, string>;
  /** remove() rejects with this, and the sandbox stays. */
  removeError?: Error;
  /** The first read of COLLECT_DIR breaks off after its first bytes, as the sandbox's own tar that failed. */
  ownTreeFails?: boolean;
}

/** A Codex turn that completes with `message`, as `codex exec --json` reports it. */
export const completingCodex = (message = 'done'): FakeCodex => async ({ stdout }) => {
  writeLines(stdout, [
    { type: 'thread.started', thread_id: 't1' },
    { type: 'turn.started' },
    { type: 'item.completed', item: { id: 'i1', type: 'agent_message', text: message } },
    { type: 'turn.completed', usage: { input_tokens: 10, cached_input_tokens: 4, output_tokens: 2, reasoning_output_tokens: 0 } },
  ]);
  return 0;
};

/** A Codex that starts its turn, then works until its signal aborts (cancel, timeout, a stop). */
export const hangingCodex = (onStarted?: (sandbox: FakeSandbox) => void): FakeCodex => async ({ stdout, signal, sandbox }) => {
  writeLines(stdout, [{ type: 'thread.started', thread_id: 't1' }, { type: 'turn.started' }]);
  onStarted?.(sandbox);
  return new Promise<number>((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
};

export function writeLines(stdout: Writable, events: object[]): void {
  for (const event of events) stdout.write(`${JSON.stringify(event)}\n`);
}

export class FakeSandboxDriver implements SandboxDriver {
  readonly requests: SandboxRequest[] = [];
  readonly sandboxes: FakeSandbox[] = [];

  constructor(private readonly script: FakeSandboxScript = {}) {}

  async ping(): Promise<void> {}

  async hasImage(): Promise<boolean> {
    return true;
  }

  async start(request: SandboxRequest, signal?: AbortSignal): Promise<Sandbox> {
    signal?.throwIfAborted();
    this.requests.push(request);
    const sandbox = new FakeSandbox(`fake-${request.runId}`, this.script);
    this.sandboxes.push(sandbox);
    return sandbox;
  }

  async sweep(): Promise<SweepResult> {
    return { containers: 0, volumes: 0 };
  }

  async sweepExpired(): Promise<SweepResult> {
    return { containers: 0, volumes: 0 };
  }

  /** Sandboxes started and not removed. */
  live(): FakeSandbox[] {
    return this.sandboxes.filter((s) => !s.removed);
  }
}

export class FakeSandbox implements Sandbox {
  /** Every exec and the main command (`main`), in order: its argv and what was written to its stdin. */
  readonly execs: { argv: string[]; stdin: string | undefined; main: boolean }[] = [];
  /** The path of every getArchive, in order. */
  readonly archiveReads: string[] = [];
  frozen = false;
  removed = false;
  removeCalls = 0;

  constructor(
    readonly id: string,
    private readonly script: FakeSandboxScript,
  ) {}

  async putArchive(tar: Readable): Promise<void> {
    for await (const _ of tar);
  }

  /** Of COLLECT_DIR only, as Docker names it: Codex's home (its session, when scripted), then the workspace. */
  async getArchive(path: string): Promise<Readable> {
    this.archiveReads.push(path);
    if (path !== COLLECT_DIR) throw new Error(`fake sandbox: no archive of ${path}`);
    const [home, workspace] = [COLLECT_CODEX_HOME.slice(1), COLLECT_WORKSPACE.slice(1)];
    const first = this.archiveReads.length === 1;
    const entries = [
      dir(`${COLLECT_DIR.slice(1)}/`),
      dir(`${home}/`),
      ...Object.entries(this.script.codexHome ?? {}).map(([name, content]) => file(`${home}/${name}`, content)),
      dir(`${workspace}/`),
      ...Object.entries(this.script.workspace ?? {}).map(([name, content]) => file(`${workspace}/${name}`, content)),
    ];
    const tar = await buildTar(entries);
    if (first && this.script.ownTreeFails) {
      return Readable.from((async function* () {
        yield tar.subarray(0, 512);
        throw new SandboxTreeError("the sandbox's own tar of its tree ended with 2");
      })());
    }
    return Readable.from([tar]);
  }

  async readWorkspaceWithin(): Promise<BoundedTree> {
    throw new Error('fake sandbox: readWorkspaceWithin is not scripted');
  }

  async exec(argv: string[], options: ExecOptions = {}): Promise<number> {
    if (options.stdin && typeof options.stdin !== 'string') for await (const _ of options.stdin);
    const stdin = typeof options.stdin === 'string' ? options.stdin : undefined;
    this.execs.push({ argv, stdin, main: false });
    options.signal?.throwIfAborted();
    return 0; // helpers succeed
  }

  async runMain(argv: string[], options: ExecOptions = {}): Promise<number> {
    if (this.execs.some((e) => e.main)) throw new Error('fake sandbox: its main command ran already');
    const stdin = typeof options.stdin === 'string' ? options.stdin : undefined;
    this.execs.push({ argv, stdin, main: true });
    options.signal?.throwIfAborted();
    const codex = this.script.codex ?? completingCodex();
    const code = await codex({ stdout: options.stdout!, signal: options.signal ?? new AbortController().signal, sandbox: this, stdin });
    await options.onExit?.();
    return code;
  }

  assignedTo: string | null = null;

  async assign(runId: string): Promise<void> {
    this.assignedTo = runId;
  }

  async freeze(): Promise<void> {
    this.frozen = true;
  }

  async stopReason(): Promise<SandboxError | null> {
    return null;
  }

  async joinNetwork(): Promise<void> {}

  async leaveNetwork(): Promise<void> {}

  async ranOutOfMemory(): Promise<boolean> {
    return false;
  }

  async remove(): Promise<void> {
    this.removeCalls++;
    if (this.script.removeError) throw this.script.removeError;
    this.removed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.remove();
  }
}
