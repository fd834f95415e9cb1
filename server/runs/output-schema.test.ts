import { describe, expect, it } from 'vitest';
import type { RunError } from '../domain/run-error.js';
import { checkOutput, outputSchemaProblem, withOutput } from './output-schema.js';

const verdict = {
  type: 'object',
  properties: { verdict: { type: 'string', enum: ['pass', 'fail'] }, score: { type: 'integer' } },
  required: ['verdict', 'score'],
  additionalProperties: false,
};

describe('outputSchemaProblem', () => {
  it('takes an object schema', () => {
    expect(outputSchemaProblem(verdict, 32 * 1024)).toBeNull();
  });

  it('refuses what is not a schema object, or not an object root', () => {
    expect(outputSchemaProblem(true, 1024)).toMatch(/JSON Schema object/);
    expect(outputSchemaProblem([verdict], 1024)).toMatch(/JSON Schema object/);
    expect(outputSchemaProblem({ type: 'string' }, 1024)).toMatch(/root must be an object/);
  });

  it('refuses a schema the 2020-12 meta-schema does not take', () => {
    expect(outputSchemaProblem({ type: 'object', properties: { a: { type: 'strng' } } }, 1024)).toMatch(/not a valid JSON Schema/);
    expect(outputSchemaProblem({ type: 'object', required: 'a' }, 1024)).toMatch(/not a valid JSON Schema/);
  });

  it('refuses a $ref it cannot resolve within the schema, fetching nothing', () => {
    expect(outputSchemaProblem({ type: 'object', properties: { a: { $ref: 'http://127.0.0.1:9/x.json' } } }, 1024)).toMatch(/can't resolve reference/);
    expect(outputSchemaProblem({ type: 'object', $defs: { n: { type: 'integer' } }, properties: { a: { $ref: '#/$defs/n' } } }, 1024)).toBeNull();
  });

  it('refuses a schema over the cap, saying its size', () => {
    const big = { type: 'object', description: 'x'.repeat(2000) };
    expect(outputSchemaProblem(big, 1024)).toMatch(/^it is \d+ bytes as JSON; at most 1024/);
  });

  it('takes the same $id twice (each check has its own validator)', () => {
    const withId = { ...verdict, $id: 'https://example.invalid/verdict' };
    expect(outputSchemaProblem(withId, 4096)).toBeNull();
    expect(outputSchemaProblem(withId, 4096)).toBeNull();
  });
});

describe('checkOutput', () => {
  it('gives the parsed JSON of a final message that matches', () => {
    expect(checkOutput('{"verdict":"pass","score":3}', verdict)).toEqual({ output: { verdict: 'pass', score: 3 }, error: null });
  });

  it('says where a final message does not match', () => {
    const checked = checkOutput('{"verdict":"maybe","score":3}', verdict);
    expect(checked.error).toEqual({ code: 'output_invalid', message: expect.stringMatching(/does not match output_schema: \/verdict must be equal to one of the allowed values/) });
    expect(checkOutput('{"verdict":"pass"}', verdict).error?.message).toMatch(/must have required property 'score'/);
  });

  it('says a final message is not JSON, or missing', () => {
    expect(checkOutput('Looks good to me.', verdict).error?.message).toMatch(/^the final message is not JSON/);
    expect(checkOutput(null, verdict).error?.message).toBe('codex ended without a final message');
  });
});

describe('withOutput', () => {
  const succeeded = { status: 'succeeded', finalMessage: '{"verdict":"fail","score":0}', error: null };

  it('adds the output to a run that succeeded', () => {
    expect(withOutput(succeeded, verdict)).toMatchObject({ status: 'succeeded', output: { verdict: 'fail', score: 0 } });
  });

  it('fails a run whose final message does not match', () => {
    expect(withOutput({ ...succeeded, finalMessage: 'prose' }, verdict)).toMatchObject({ status: 'failed', error: { code: 'output_invalid' }, output: null });
  });

  it('leaves other ends and runs without a schema as they are', () => {
    const failed = { status: 'failed', finalMessage: null, error: { code: 'codex_failed', message: 'x' } satisfies RunError };
    expect(withOutput(failed, verdict)).toEqual({ ...failed, output: null });
    expect(withOutput(succeeded, null)).toEqual({ ...succeeded, output: null });
  });
});

describe('patterns', () => {
  const schema = { type: 'object', properties: { id: { type: 'string', pattern: '^(a+)+$' } } };

  it('are matched in linear time: a backtracking pattern against a long near-match returns at once', () => {
    const t0 = performance.now();
    const checked = checkOutput(JSON.stringify({ id: `${'a'.repeat(200_000)}!` }), schema);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(checked.error?.message).toMatch(/\/id must match pattern/);
    expect(checkOutput('{"id":"aaa"}', schema).output).toEqual({ id: 'aaa' });
  });

  it('hold to JSON Schema semantics: found anywhere unless anchored', () => {
    const loose = { type: 'object', properties: { v: { type: 'string', pattern: 'b+' } } };
    expect(checkOutput('{"v":"abbbc"}', loose).error).toBeNull();
    expect(checkOutput('{"v":"ac"}', loose).error?.message).toMatch(/must match pattern/);
  });

  it('refuses one RE2 cannot run (a backreference) as an invalid schema', () => {
    expect(outputSchemaProblem({ type: 'object', properties: { v: { type: 'string', pattern: '(a)\\1' } } }, 1024)).toMatch(/not a valid JSON Schema: .*invalid escape sequence/);
  });
});
