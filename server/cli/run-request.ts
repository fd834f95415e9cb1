// What `run` asks the server for, from its flags: the prompt and the run's options (a schema read
// from --schema's file among them). Checked here, before anything is sent, so a typo costs no upload.
import { readFile } from 'node:fs/promises';
import { CliError, EXIT } from './exit-codes.js';

/** The flags of `run` that make its request (the rest say where its results go). */
export interface RunRequestFlags {
  prompt: string;
  provider?: string;
  model?: string;
  timeout?: number;
  /** A file holding a JSON Schema for the final message. */
  schema?: string;
}

export interface RunRequest {
  prompt: string;
  /** Only the options given: the server's defaults (or, for a follow-up, the parent's) fill the rest. */
  options: Record<string, unknown>;
}

export async function buildRunRequest(flags: RunRequestFlags): Promise<RunRequest> {
  const options: Record<string, unknown> = Object.fromEntries(
    Object.entries({ provider: flags.provider, model: flags.model, timeout_s: flags.timeout }).filter(([, v]) => v !== undefined),
  );
  if (flags.schema !== undefined) options.output_schema = await readSchemaFile(flags.schema);
  return { prompt: flags.prompt, options };
}

/**
 * --schema's file as JSON. Whether it is a schema the server takes (an object root, $refs inside it,
 * its size) is the server's call, answered as a 400 invalid_options: one rule, in one place.
 */
export async function readSchemaFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new CliError(EXIT.usage, `--schema ${file}: cannot read it: ${why}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(EXIT.usage, `--schema ${file} is not JSON: ${(err as Error).message}`);
  }
}
