import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeForApiError, exitCodeForStatus } from './exit-codes.js';

describe('exit codes', () => {
  it('maps each ended status to its exit status', () => {
    expect(exitCodeForStatus('succeeded')).toBe(0);
    expect(exitCodeForStatus('failed')).toBe(1);
    expect(exitCodeForStatus('timed_out')).toBe(3);
    expect(exitCodeForStatus('cancelled')).toBe(4);
  });

  it('calls a refused token unreachable-or-unauthorised, a refused request a usage error, the rest a failure', () => {
    expect(exitCodeForApiError(401, 'unauthorized')).toBe(EXIT.unreachable);
    expect(exitCodeForApiError(400, 'invalid_options')).toBe(EXIT.usage);
    expect(exitCodeForApiError(400, 'workspace_invalid')).toBe(EXIT.usage);
    expect(exitCodeForApiError(404, 'not_found')).toBe(EXIT.failed);
    expect(exitCodeForApiError(503, 'not_ready')).toBe(EXIT.failed);
    expect(exitCodeForApiError(502, undefined)).toBe(EXIT.failed);
  });
});
