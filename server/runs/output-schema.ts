import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { RegExpEngine } from 'ajv/dist/types/index.js';
import { RE2JS } from 're2js';
import type { RunError } from '../domain/run-error.js';

/** A run's `output_schema`: a JSON Schema (2020-12) whose root is an object schema. */
export type OutputSchema = Record<string, unknown>;

/**
 * `pattern` and `patternProperties` run in linear time: the schema is the tenant's and so is the
 * final message (a hostile repository can write it), and a backtracking `^(a+)+$` against a long
 * "aaaa…!" would hold the server's one JavaScript thread for minutes. RE2's syntax, then: no
 * backreferences or lookarounds (a pattern with them is refused as invalid).
 */
const linearRegExp: RegExpEngine = Object.assign((pattern: string) => RE2JS.compile(pattern), { code: 're2js' });

/**
 * A new validator each time: one Ajv instance keeps every schema it compiled (by `$id` too, so a
 * second run's schema with the same `$id` would be refused), and a run's schema is compiled twice
 * at most (at the request, at the run's end). No `loadSchema`: a `$ref` outside the schema is an
 * error, never a fetch.
 */
function compile(schema: OutputSchema): ValidateFunction {
  // strict off: keywords Ajv does not know (OpenAI's own, `x-…`) are annotations to it, as the spec says.
  return new Ajv2020({ strict: false, allErrors: false, code: { regExp: linearRegExp } }).compile(schema);
}

/** What can be told of `schema` without compiling it (cheap: no worker needed), or null. */
export function outputSchemaShapeProblem(schema: unknown, maxBytes: number): string | null {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return 'a JSON Schema object is required';
  const bytes = Buffer.byteLength(JSON.stringify(schema));
  if (bytes > maxBytes) return `it is ${bytes} bytes as JSON; at most ${maxBytes} (limits.output_schema_max_kb)`;
  // Codex sends it upstream as a strict json_schema text format, whose root must be an object.
  if ((schema as OutputSchema).type !== 'object') return 'its root must be an object schema ("type": "object")';
  return null;
}

/**
 * Why `schema` cannot be a run's output schema, or null when it can. Compiling costs ~0.3-1 ms a
 * property (Ajv generates code): off the event loop, see output-check.ts.
 */
export function outputSchemaProblem(schema: unknown, maxBytes: number): string | null {
  const shape = outputSchemaShapeProblem(schema, maxBytes);
  if (shape) return shape;
  try {
    compile(schema as OutputSchema);
  } catch (err) {
    return `not a valid JSON Schema: ${(err as Error).message}`;
  }
  return null;
}

export type OutputCheck = { output: unknown; error: null } | { output: null; error: RunError };

/** Codex's final message held to the run's schema: its parsed JSON, or why it is not the output asked for. */
export function checkOutput(finalMessage: string | null, schema: OutputSchema): OutputCheck {
  const invalid = (message: string): OutputCheck => ({ output: null, error: { code: 'output_invalid', message } });
  if (finalMessage === null) return invalid('codex ended without a final message');
  let output: unknown;
  try {
    output = JSON.parse(finalMessage);
  } catch (err) {
    return invalid(`the final message is not JSON: ${(err as Error).message}`);
  }
  const validate = compile(schema);
  if (!validate(output)) return invalid(`the final message does not match output_schema: ${describe(validate.errors ?? [])}`);
  return { output, error: null };
}

/**
 * How a run with an output schema ends: a run that succeeded has `output`, or fails with
 * `output_invalid`; any other end keeps its own status and error.
 */
export function withOutput<R extends { status: string; finalMessage: string | null; error: RunError | null }>(result: R, schema: OutputSchema | null): R & { output: unknown } {
  if (!schema || result.status !== 'succeeded') return { ...result, output: null };
  return withChecked(result, checkOutput(result.finalMessage, schema));
}

/** A run that succeeded, given how its final message checked out. */
export function withChecked<R extends { status: string; error: RunError | null }>(result: R, checked: OutputCheck): R & { output: unknown } {
  return checked.error ? { ...result, status: 'failed', error: checked.error, output: null } : { ...result, output: checked.output };
}

function describe(errors: ErrorObject[]): string {
  return errors.map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
}
