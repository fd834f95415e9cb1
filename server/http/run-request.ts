import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import busboy from 'busboy';
import { z } from 'zod';
import { spoolWorkspace, WorkspaceRejectedError, type WorkspaceLimits } from '../archive/spool-workspace.js';
import type { Config } from '../config/config.js';
import { ApiError } from './api-error.js';
import { readTextCapped } from './read-capped.js';

const optionsSchema = z
  .object({
    provider: z.string().min(1).max(64).optional(),
    model: z.string().min(1).max(200).optional(),
    timeout_s: z.number().int().positive().optional(),
  })
  .strict();

export type RunOptions = z.output<typeof optionsSchema>;

export interface RunRequest {
  prompt: string;
  options: RunOptions;
  /** A validated, re-packed tar; the caller owns it and must hand it on or delete it. */
  workspaceTar: string | null;
}

export interface RunRequestLimits {
  uploadDir: string;
  promptMaxBytes: number;
  workspace: WorkspaceLimits;
}

const MiB = 1024 * 1024;

export function runRequestLimits(config: Config): RunRequestLimits {
  return {
    uploadDir: path.join(config.server.dataDir, 'uploads'),
    promptMaxBytes: config.limits.promptMaxBytes,
    workspace: {
      maxBytes: config.sandbox.workspaceMb * MiB,
      maxEntries: config.limits.workspaceMaxEntries,
      maxCompressedBytes: config.limits.uploadMaxMb * MiB,
    },
  };
}

/** Reads `POST /v1/runs`: JSON for a run with an empty workspace, multipart to upload one. */
export async function readRunRequest(request: Request, limits: RunRequestLimits): Promise<RunRequest> {
  const type = request.headers.get('content-type') ?? '';
  if (/^application\/json\b/i.test(type)) return readJson(request, limits);
  if (/^multipart\/form-data\b/i.test(type)) return readMultipart(request, limits);
  throw new ApiError('unsupported_media_type', 'send multipart/form-data (prompt, workspace, options) or application/json ({"prompt", "options"})');
}

async function readJson(request: Request, limits: RunRequestLimits): Promise<RunRequest> {
  const text = await readTextCapped(request, limits.promptMaxBytes + 64 * 1024);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError('bad_request', 'body is not valid JSON');
  }
  const parsed = z.object({ prompt: z.unknown().optional(), options: z.unknown().optional() }).strict().safeParse(body);
  if (!parsed.success) throw new ApiError('bad_request', `body: ${describeIssues(parsed.error)}`);
  return { prompt: checkPrompt(parsed.data.prompt, limits), options: checkOptions(parsed.data.options ?? {}), workspaceTar: null };
}

async function readMultipart(request: Request, limits: RunRequestLimits): Promise<RunRequest> {
  if (!request.body) throw new ApiError('bad_request', 'empty body');
  const fields = new Map<string, string>();
  const tarPath = path.join(limits.uploadDir, `${randomUUID()}.tar`);
  const stop = new AbortController();
  let firstError: unknown;
  const fail = (err: unknown) => {
    firstError ??= err;
    stop.abort(err);
  };
  let spooling: Promise<unknown> | undefined;

  const parser = busboy({
    headers: { 'content-type': request.headers.get('content-type')! },
    limits: { fieldSize: limits.promptMaxBytes, fields: 2, files: 1, parts: 3 },
  });
  parser.on('field', (name, value, info) => {
    if (name !== 'prompt' && name !== 'options') return fail(new ApiError('bad_request', `unknown form field "${name}"; expected prompt, workspace, options`));
    if (info.valueTruncated) return fail(new ApiError('bad_request', `${name} is longer than ${limits.promptMaxBytes} bytes`));
    fields.set(name, value);
  });
  parser.on('file', (name, stream) => {
    if (name !== 'workspace' || spooling) {
      stream.resume();
      return fail(new ApiError('bad_request', name === 'workspace' ? 'only one workspace file is allowed' : `unexpected file field "${name}"; the tarball goes in "workspace"`));
    }
    spooling = mkdir(limits.uploadDir, { recursive: true })
      .then(() => spoolWorkspace(stream, tarPath, limits.workspace, { signal: stop.signal }))
      .catch((err) => {
        stream.resume();
        fail(err);
      });
  });
  parser.on('filesLimit', () => fail(new ApiError('bad_request', 'only one workspace file is allowed')));
  parser.on('fieldsLimit', () => fail(new ApiError('bad_request', 'too many form fields; expected prompt, workspace, options')));
  parser.on('partsLimit', () => fail(new ApiError('bad_request', 'too many form parts; expected prompt, workspace, options')));

  try {
    await pipeline(Readable.fromWeb(request.body as NodeWebReadableStream), parser, { signal: stop.signal });
    await spooling;
    if (firstError) throw firstError;
    return {
      prompt: checkPrompt(fields.get('prompt'), limits),
      options: checkOptions(fields.has('options') ? parseJsonField(fields.get('options')!) : {}),
      workspaceTar: spooling ? tarPath : null,
    };
  } catch (err) {
    await spooling?.catch(() => {});
    await rm(tarPath, { force: true });
    throw toApiError(firstError ?? err);
  }
}

function toApiError(err: unknown): unknown {
  if (err instanceof WorkspaceRejectedError) return new ApiError(err.kind === 'too_large' ? 'workspace_too_large' : 'workspace_invalid', err.message);
  if (err instanceof ApiError) return err;
  if (err instanceof Error && /Malformed|Unexpected end of form|boundary/i.test(err.message)) return new ApiError('bad_request', `malformed multipart body: ${err.message}`);
  return err;
}

function parseJsonField(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('invalid_options', 'options is not valid JSON');
  }
}

function checkPrompt(prompt: unknown, limits: RunRequestLimits): string {
  if (typeof prompt !== 'string' || !prompt.trim()) throw new ApiError('bad_request', 'prompt is required (a non-empty string)');
  if (Buffer.byteLength(prompt) > limits.promptMaxBytes) throw new ApiError('bad_request', `prompt is longer than ${limits.promptMaxBytes} bytes`);
  if (prompt.includes('\0')) throw new ApiError('bad_request', 'prompt contains a NUL byte');
  return prompt;
}

function checkOptions(options: unknown): RunOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new ApiError('invalid_options', `options: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/** Picks provider, model and timeout for a run from its options and the server's config. */
export function resolveRunOptions(options: RunOptions, config: Config, tenant: string): { provider: string; model: string; timeoutS: number } {
  const allowed = config.tenants.find((t) => t.name === tenant)?.providers ?? Object.keys(config.providers);
  const provider = options.provider ?? (allowed.includes(config.defaults.provider) ? config.defaults.provider : allowed[0]!);
  const providerConfig = config.providers[provider];
  if (!providerConfig || !allowed.includes(provider)) {
    throw new ApiError('invalid_options', `unknown provider "${provider}"; available: ${allowed.join(', ')}`);
  }
  const model = options.model ?? config.defaults.model;
  if (providerConfig.models && !providerConfig.models.includes(model)) {
    throw new ApiError('invalid_options', `model "${model}" is not allowed for provider ${provider}; allowed: ${providerConfig.models.join(', ')}`);
  }
  const timeoutS = options.timeout_s ?? config.limits.defaultTimeoutS;
  if (timeoutS > config.limits.maxTimeoutS) throw new ApiError('invalid_options', `timeout_s exceeds the maximum of ${config.limits.maxTimeoutS}`);
  return { provider, model, timeoutS };
}
