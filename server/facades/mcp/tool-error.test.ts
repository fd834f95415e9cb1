import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../http/api-error.js';
import { RunRefusedError } from '../../runs/run-refused.js';
import { toolError } from './tool-error.js';

describe('toolError', () => {
  it("gives a lower room's error the REST API's code", () => {
    const log = { error: vi.fn() };
    expect(toolError(new RunRefusedError('invalid_options', 'unknown provider "x"'), log, 'codex_run')).toEqual({
      content: [{ type: 'text', text: 'invalid_options: unknown provider "x"' }],
      isError: true,
    });
    expect(toolError(new ApiError('not_found', 'no run run_1'), log, 'codex_run_status').content).toEqual([{ type: 'text', text: 'not_found: no run run_1' }]);
    expect(log.error).not.toHaveBeenCalled();
  });

  it('logs an unknown error and keeps its text off the result', () => {
    const log = { error: vi.fn() };
    const result = toolError(new Error('EACCES /var/lib/secret/path'), log, 'codex_run');
    expect(result).toEqual({ content: [{ type: 'text', text: 'internal: internal error' }], isError: true });
    expect(log.error).toHaveBeenCalledOnce();
  });
});
