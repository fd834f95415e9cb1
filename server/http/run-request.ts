import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import busboy from 'busboy';
import { z } from 'zod';
import { spoolWorkspace, WorkspaceRejectedError, type SpoolResult, type WorkspaceCopy, type WorkspaceLimits } from '../archive/spool-workspace.js';
import type { Config } from '../config/config.js';
import { outputSchemaProblemOffThread } from '../runs/output-check.js';
import { outputSchemaShapeProblem, type OutputSchema } from '../runs/output-schema.js';
import { ApiError } from './api-error.js';
import { apiErrorFor } from './domain-errors.js';
import { spoolImage, type ImageLimits, type SpooledImage } from './image-parts.js';
import { readTextCapped } from './read-capped.js';
import type { BaselineScan } from '../tree-diff/baseline-scan.js';

/** A run's options, as the `options` JSON (a form field or the JSON body's key) gives them. */
export const optionsSchema = z
  .object({
    provider: z.string().min(1).max(64).optional(),
    model: z.string().min(1).max(200).optional(),
    timeout_s: z.number().int().positive().optional(),
    // Up to the tenant's ceilings (planRun); the minimums are the config's own for these keys.
    memory_mb: z.number().int().min(64).optional(),
    // Docker takes CPUs in hundredths at the least.
    cpus: z.number().min(0.01).optional(),
    workspace_mb: z.number().int().min(1).optional(),
    // Under one of the tenant's webhook_prefixes (planRun).
    webhook_url: z.string().max(2048).optional(),
    // A JSON Schema for Codex's final message (checked in checkOptions: its size cap is the config's).
    output_schema: z.unknown().optional().meta({ description: "A JSON Schema (2020-12, an object root) for Codex's final message: the run's `output`, or `output_invalid`" }),
    // One of the tenant's [environments.NAME] (planRun); "default" when unset.
    environment: z.string().min(1).max(64).optional(),
  })
  .strict();

export type RunOptions = Omit<z.output<typeof optionsSchema>, 'output_schema'> & { output_schema?: OutputSchema };

export interface RunRequest {
  prompt: string;
  options: RunOptions;
  /** A validated, re-packed tar; the caller owns it and must hand it on or delete it. */
  workspaceTar: string | null;
  /** The workspace's bytes as it will be in the sandbox (0 without one). */
  workspaceBytes: number;
  /** The spooler's scan of the tar, for the run's diff. */
  workspaceScan?: BaselineScan;
  /** The form's image parts, in their order, spooled; the caller owns the files, as the tar. */
  images: SpooledImage[];
}

export interface RunRequestLimits {
  uploadDir: string;
  /** The sandbox's ids: the re-packed upload's files are theirs. */
  owner: { uid: number; gid: number };
  promptMaxBytes: number;
  workspace: WorkspaceLimits;
  outputSchemaMaxBytes: number;
  images: ImageLimits;
}

const MiB = 1024 * 1024;
const OPTIONS_MAX_BYTES = 64 * 1024;
/** Part headers and boundaries around the fields. */
const FORM_OVERHEAD_BYTES = 16 * 1024;

/** The client went away before its request was read: nobody is left to answer. */
export class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection before its request was read');
  }
}

export function runRequestLimits(config: Config): RunRequestLimits {
  return {
    uploadDir: path.join(config.server.dataDir, 'uploads'),
    owner: { uid: config.sandbox.uid, gid: config.sandbox.gid },
    promptMaxBytes: config.limits.promptMaxBytes,
    outputSchemaMaxBytes: config.limits.outputSchemaMaxKb * 1024,
    images: { maxCount: config.limits.imageMaxCount, maxBytes: config.limits.imageMaxMb * MiB },
    workspace: {
      maxBytes: config.sandbox.workspaceMb * MiB,
      maxEntries: config.limits.workspaceMaxEntries,
      maxCompressedBytes: config.limits.uploadMaxMb * MiB,
    },
  };
}

/** Reads `POST /v1/runs`: JSON for a run with an empty workspace, multipart to upload one. */
export async function readRunRequest(
  request: Request,
  limits: RunRequestLimits,
  admit: AdmissionCheck = () => {},
  /** The multipart body as a Node stream; the request's own body when not given. */
  body?: Readable | null,
  copyTo?: WorkspaceCopyFor,
): Promise<RunRequest> {
  const type = request.headers.get('content-type') ?? '';
  // Not turned into a Node stream before it is known to be multipart: that locks the Web body for readJson.
  if (/^application\/json\b/i.test(type)) return readJson(request, limits);
  if (/^multipart\/form-data\b/i.test(type)) {
    return readMultipart(request, body !== undefined ? body : request.body ? Readable.fromWeb(request.body as NodeWebReadableStream) : null, limits, admit, copyTo);
  }
  throw new ApiError('unsupported_media_type', 'send multipart/form-data (prompt, workspace, image, options) or application/json ({"prompt", "options"})');
}

async function readJson(request: Request, limits: RunRequestLimits): Promise<RunRequest> {
  const text = await readTextCapped(request, limits.promptMaxBytes + OPTIONS_MAX_BYTES).catch((err: unknown) => {
    // A client that hung up (or missed request_timeout_s) mid-body is nobody's error to log.
    throw isConnectionReset(err) || request.signal.aborted ? new ClientGoneError() : err;
  });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError('bad_request', 'body is not valid JSON');
  }
  const parsed = z.object({ prompt: z.unknown().optional(), options: z.unknown().optional() }).strict().safeParse(body);
  if (!parsed.success) throw new ApiError('bad_request', `body: ${describeIssues(parsed.error)}`);
  const prompt = checkPrompt(parsed.data.prompt, limits);
  const options = await checkOutputSchema(checkOptions(parsed.data.options ?? {}, limits), limits);
  return { prompt, options, workspaceTar: null, workspaceBytes: 0, images: [] };
}

/**
 * Called just before a workspace is read, with the options when they came first: throws to refuse
 * the run early, or returns the workspace's cap in bytes (`limits.workspace.maxBytes` if nothing).
 */
export type AdmissionCheck = (options: RunOptions | undefined) => number | void;

/** Called once the workspace is admitted, with the options when they came first: where the spooled tar should also go, if anywhere. */
export type WorkspaceCopyFor = (options: RunOptions | undefined) => WorkspaceCopy | null;

/**
 * `body` is piped, never destroyed here: after a refusal the caller decides what becomes of the rest
 * of it (see discardRestOfBody).
 */
async function readMultipart(request: Request, body: Readable | null, limits: RunRequestLimits, admit: AdmissionCheck, copyTo?: WorkspaceCopyFor): Promise<RunRequest> {
  if (!body) throw new ApiError('bad_request', 'empty body');
  const fieldBytesMax = limits.promptMaxBytes + OPTIONS_MAX_BYTES + FORM_OVERHEAD_BYTES;
  // A declared length past every cap is refused before a byte is read: the caps below would stop
  // it too, but only once the spool had taken upload_max_mb of it.
  const declared = Number(request.headers.get('content-length') ?? 0);
  const imagesMax = limits.images.maxCount * (limits.images.maxBytes + FORM_OVERHEAD_BYTES);
  const bodyMax = limits.workspace.maxCompressedBytes + fieldBytesMax + imagesMax;
  if (declared > bodyMax) {
    throw new ApiError('payload_too_large', `the body is ${declared} bytes; a run's form takes at most ${bodyMax} (the workspace's limits.upload_max_mb, the images' limits.image_max_* and the fields)`);
  }
  const fields = new Map<string, string>();
  const tarPath = path.join(limits.uploadDir, `${randomUUID()}.tar`);
  const stop = new AbortController();
  let firstError: unknown;
  const fail = (err: unknown) => {
    firstError ??= err;
    stop.abort(err);
  };
  let spooling: Promise<SpoolResult | void> | undefined;
  const images: Promise<SpooledImage | null>[] = [];
  // busboy reads a form field to its end however long it is, keeping only its first fieldSize bytes:
  // count what goes by outside the files (workspace, images) and stop at the fields' own cap instead.
  let filesOpen = 0;
  let fieldBytes = 0;
  const fieldCap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (filesOpen === 0) fieldBytes += chunk.length;
      if (fieldBytes > fieldBytesMax) return callback(new ApiError('bad_request', `the form fields (prompt, options) are longer than ${fieldBytesMax} bytes in all`));
      callback(null, chunk);
    },
  });

  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { 'content-type': request.headers.get('content-type')! },
      // busboy counts a part when it ends and reports partsLimit on reaching the limit, not on passing
      // it: prompt, workspace, options and the images are the parts, so one more is the first too many.
      // One file more than allowed reaches the 'file' handler, which says what is too many.
      limits: { fieldSize: limits.promptMaxBytes, fields: 2, files: 1 + limits.images.maxCount + 1, parts: 3 + limits.images.maxCount + 1 },
    });
  } catch (err) {
    throw new ApiError('bad_request', `malformed multipart request: ${(err as Error).message}`);
  }
  parser.on('field', (name, value, info) => {
    // busboy takes a part without a filename for a field.
    if (name === 'image' || name === 'workspace') return fail(new ApiError('bad_request', `${name} must be sent as a file part (with a filename)`));
    if (name !== 'prompt' && name !== 'options') return fail(new ApiError('bad_request', `unknown form field "${name}"; expected prompt, workspace, image, options`));
    if (info.valueTruncated) return fail(new ApiError('bad_request', `${name} is longer than ${limits.promptMaxBytes} bytes`));
    // Two prompts would be one silently dropped: which one a client meant is not ours to guess.
    if (fields.has(name)) return fail(new ApiError('bad_request', `form field "${name}" is given twice`));
    fields.set(name, value);
  });
  parser.on('file', (name, stream, info) => {
    // Whatever happens next, this stream may be destroyed with an error (busboy aborted, the client
    // gone): unheard, that error would end the process.
    stream.on('error', () => {});
    const refuse = (err: unknown) => {
      stream.resume();
      fail(err);
    };
    if (name === 'image') {
      if (images.length >= limits.images.maxCount) return refuse(new ApiError('image_invalid', `at most ${limits.images.maxCount} images (limits.image_max_count)`));
      const label = `image ${images.length + 1}${info.filename ? ` (${JSON.stringify(info.filename).slice(0, 80)})` : ''}`;
      filesOpen++;
      stream.once('end', () => filesOpen--);
      const file = path.join(limits.uploadDir, `${randomUUID()}.image`);
      images.push(spoolImage(stream, file, limits.images.maxBytes, label, stop.signal).catch((err: unknown) => (refuse(err), null)));
      return;
    }
    if (name !== 'workspace' || spooling) {
      if (name === 'workspace') return refuse(new ApiError('bad_request', 'only one workspace file is allowed'));
      const what = name === 'prompt' || name === 'options' ? `${name} was sent as a file; send it as a plain form field` : `unexpected file field "${name}"; the tarball goes in "workspace", images in "image"`;
      return refuse(new ApiError('bad_request', what));
    }
    let maxBytes: number;
    let copy: WorkspaceCopy | null | undefined;
    try {
      const options = fields.has('options') ? checkOptions(parseJsonField(fields.get('options')!), limits) : undefined;
      maxBytes = admit(options) ?? limits.workspace.maxBytes;
      copy = copyTo?.(options);
    } catch (err) {
      return refuse(err);
    }
    filesOpen++;
    stream.once('end', () => filesOpen--);
    spooling = spoolWorkspace(stream, tarPath, { ...limits.workspace, maxBytes }, { signal: stop.signal, ...limits.owner, copy: copy ?? undefined }).catch(refuse);
  });
  parser.on('filesLimit', () => fail(new ApiError('bad_request', `too many files; expected one workspace and at most ${limits.images.maxCount} images`)));
  parser.on('fieldsLimit', () => fail(new ApiError('bad_request', 'too many form fields; expected prompt, workspace, image, options')));
  parser.on('partsLimit', () => fail(new ApiError('bad_request', 'too many form parts; expected prompt, workspace, image, options')));

  const onBodyError = (err: unknown) => fail(isConnectionReset(err) || request.signal.aborted ? new ClientGoneError() : err);
  body.on('error', onBodyError);
  try {
    body.pipe(fieldCap);
    await pipeline(fieldCap, parser, { signal: stop.signal });
    const spooled = await spooling;
    const spooledImages = await Promise.all(images);
    if (firstError) throw firstError;
    const options = checkOptions(fields.has('options') ? parseJsonField(fields.get('options')!) : {}, limits);
    const prompt = checkPrompt(fields.get('prompt'), limits);
    await checkOutputSchema(options, limits);
    return {
      prompt,
      options,
      workspaceTar: spooling ? tarPath : null,
      workspaceBytes: spooled?.bytes ?? 0,
      workspaceScan: spooled?.scan,
      images: spooledImages.filter((image) => image !== null),
    };
  } catch (err) {
    // The form may fail by itself (busboy: "Malformed part header" in a later part) while the
    // workspace is being spooled: busboy leaves that file stream open, and the spool would wait on it
    // for ever, holding its file. Stop it first.
    fail(err);
    await spooling?.catch(() => {});
    await rm(tarPath, { force: true });
    for (const image of await Promise.all(images)) if (image) await rm(image.path, { force: true });
    const cause = firstError ?? err;
    if (cause instanceof ClientGoneError || request.signal.aborted || isConnectionReset(cause)) throw new ClientGoneError();
    throw toApiError(cause);
  } finally {
    body.unpipe(fieldCap);
    body.off('error', onBodyError);
  }
}

/** What Node's HTTP server gives a body stream whose client hung up. */
function isConnectionReset(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ECONNRESET';
}

function toApiError(err: unknown): unknown {
  const mapped = apiErrorFor(err);
  if (mapped) return mapped;
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

/** The checks a prompt gets however it came: non-empty, within `limits.prompt_max_bytes`, no NUL. */
export function checkPrompt(prompt: unknown, limits: Pick<RunRequestLimits, 'promptMaxBytes'>): string {
  if (typeof prompt !== 'string' || !prompt.trim()) throw new ApiError('bad_request', 'prompt is required (a non-empty string)');
  if (Buffer.byteLength(prompt) > limits.promptMaxBytes) throw new ApiError('bad_request', `prompt is longer than ${limits.promptMaxBytes} bytes`);
  if (prompt.includes('\0')) throw new ApiError('bad_request', 'prompt contains a NUL byte');
  return prompt;
}

function checkOptions(options: unknown, limits: Pick<RunRequestLimits, 'outputSchemaMaxBytes'>): RunOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new ApiError('invalid_options', `options: ${describeIssues(parsed.error)}`);
  const { output_schema: schema, ...rest } = parsed.data;
  if (schema === undefined) return rest;
  // The cheap checks here (this runs as the form is read); compiling it is checkOutputSchema's.
  const problem = outputSchemaShapeProblem(schema, limits.outputSchemaMaxBytes);
  if (problem) throw new ApiError('invalid_options', `options.output_schema: ${problem}`);
  return { ...rest, output_schema: schema as OutputSchema };
}

/** The options, once their output schema (if any) compiles as a JSON Schema: on a worker thread. */
async function checkOutputSchema(options: RunOptions, limits: Pick<RunRequestLimits, 'outputSchemaMaxBytes'>): Promise<RunOptions> {
  if (!options.output_schema) return options;
  const problem = await outputSchemaProblemOffThread(options.output_schema, limits.outputSchemaMaxBytes);
  if (problem) throw new ApiError('invalid_options', `options.output_schema: ${problem}`);
  return options;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}
