import { describe, expect, it } from 'vitest';
import type { RunView } from '../runs/run-wire.js';
import { resultText } from './run-result.js';

const run = (fields: Partial<RunView>) => ({ id: 'run_1', status: 'succeeded', final_message: '{"ok":true}', output: null, error: null, ...fields }) as RunView;

describe('resultText', () => {
  it("prints a schema run's output as one pretty JSON document, not its final message", () => {
    expect(resultText(run({ output: { ok: true } }), { schema: 's.json' })).toBe('{\n  "ok": true\n}\n');
  });

  it('prints nothing for a schema run that has no output, so stdout is JSON or empty', () => {
    const unmatched = run({ status: 'failed', final_message: 'prose', error: { code: 'output_invalid', message: 'not JSON' } });
    expect(resultText(unmatched, { schema: 's.json' })).toBeNull();
    // Held to a schema the CLI was not given (a follow-up's, say): the run's own error tells.
    expect(resultText(unmatched, {})).toBeNull();
    expect(resultText(run({ status: 'failed', final_message: null, error: { code: 'provider_auth', message: 'no' } }), { schema: 's.json' })).toBeNull();
  });

  it('prints the final message of a run without a schema, and the whole run with --json', () => {
    expect(resultText(run({ final_message: 'Done.' }), {})).toBe('Done.\n');
    expect(resultText(run({ final_message: null }), {})).toBeNull();
    const withOutput = run({ output: { ok: true } });
    expect(JSON.parse(resultText(withOutput, { json: true, schema: 's.json' })!)).toEqual(withOutput);
  });
});
