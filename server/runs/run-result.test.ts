import { describe, expect, it } from 'vitest';
import { SandboxError } from '../sandbox/driver.js';
import { emptyOutcome } from './codex-outcome.js';
import { CollectTimeoutError } from './collect-artifacts.js';
import { NetworkPolicyError } from './phase-network.js';
import { codexResult, ended, failureOf } from './run-result.js';
import { SetupFailedError } from './setup-phase.js';

const outcome = (over: Partial<ReturnType<typeof emptyOutcome>> = {}) => ({ ...emptyOutcome(), ...over });

describe('codexResult', () => {
  it('succeeds on exit 0 without turn.failed, with the final message and usage', () => {
    const usage = { input_tokens: 1, cached_input_tokens: 0, output_tokens: 2, reasoning_output_tokens: 0 };
    expect(codexResult(0, outcome({ finalMessage: 'done', usage }), '', null, null)).toEqual({ status: 'succeeded', error: null, exitCode: 0, finalMessage: 'done', usage });
  });

  it('says out_of_memory first, then the provider\'s fault behind a turn.failed, then Codex\'s own', () => {
    expect(codexResult(137, outcome({ failure: 'x' }), '', 512, null).error).toEqual({ code: 'out_of_memory', message: 'the sandbox ran out of memory (512 MB): codex exited with code 137' });
    const fault = { code: 'provider_error' as const, message: 'provider p broke off its stream' };
    expect(codexResult(1, outcome({ failure: 'stream disconnected' }), '', null, fault).error).toEqual(fault);
    expect(codexResult(1, outcome({ failure: 'stream disconnected' }), '', null, null).error).toEqual({ code: 'codex_failed', message: 'stream disconnected' });
  });

  it('names the last stderr lines of a non-zero exit with no terminal event', () => {
    const stderr = Array.from({ length: 8 }, (_, i) => `line ${i}`).join('\n');
    expect(codexResult(2, outcome(), stderr, null, null).error).toEqual({ code: 'codex_failed', message: 'codex exited with code 2: line 3\nline 4\nline 5\nline 6\nline 7' });
    expect(codexResult(2, outcome({ lastError: 'Reconnecting... 5/5' }), '', null, null).error!.message).toBe('codex exited with code 2: Reconnecting... 5/5');
  });
});

describe('ended', () => {
  it('keeps what Codex said and its thread, with no artifacts', () => {
    const result = ended('cancelled', { code: 'cancelled', message: 'run cancelled' }, null, outcome({ finalMessage: 'half', threadId: 't' }));
    expect(result).toMatchObject({ status: 'cancelled', finalMessage: 'half', threadId: 't', hasDiff: false, hasWorkspace: false, hasSession: false });
  });
});

describe('failureOf', () => {
  it.each([
    [new SetupFailedError('exit 3'), 'setup_failed', null],
    [new NetworkPolicyError('no bridge'), 'network_policy_failed', 'could not apply a network policy'],
    [new CollectTimeoutError('took 120 s'), 'collect_timeout', null],
    [new SandboxError('gone', { code: 'sandbox_gone' }), 'sandbox_gone', 'sandbox failed'],
    [Object.assign(new Error('write failed'), { code: 'ENOSPC' }), 'storage_full', "the run's files found no room"],
    [new Error('boom'), 'internal', 'run failed unexpectedly'],
  ])('maps %s to %s', (err, code, logAs) => {
    const failure = failureOf(err);
    expect(failure.error.code).toBe(code);
    expect(failure.logAs).toBe(logAs);
  });

  it('never echoes an unexpected error\'s own text', () => {
    expect(failureOf(new Error('/secret/path leaked')).error.message).toBe('internal error while running');
  });
});
