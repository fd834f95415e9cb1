import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';

export const errorStatus = {
  bad_request: 400,
  invalid_options: 400,
  workspace_invalid: 400,
  image_invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  not_acceptable: 406,
  request_timeout: 408,
  run_not_finished: 409,
  // A follow-up of a run that kept no workspace or no Codex session.
  not_resumable: 409,
  artifact_expired: 410,
  workspace_too_large: 413,
  payload_too_large: 413,
  image_too_large: 413,
  unsupported_media_type: 415,
  headers_too_large: 431,
  queue_full: 429,
  too_many_streams: 429,
  internal: 500,
  bad_gateway: 502,
  // A run behind a facade's synchronous answer (OpenAI's chat completions) that did not succeed.
  run_failed: 502,
  run_timed_out: 504,
  not_ready: 503,
  shutting_down: 503,
  storage_full: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof errorStatus;

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Sent as Retry-After: when asking again may succeed. */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }

  get status(): ContentfulStatusCode {
    return errorStatus[this.code];
  }
}

export function errorBody(code: ErrorCode, message: string, requestId?: string) {
  return { error: { code, message, ...(requestId ? { request_id: requestId } : {}) } };
}

/** Longest id a message repeats whole: a run id is 24 characters; a client's guess may be any length. */
const SHOWN_ID_MAX_CHARS = 64;

/** An id from the client as an error message shows it: a long one cut, so the answer stays small. */
export function shownId(id: string): string {
  return id.length <= SHOWN_ID_MAX_CHARS ? id : `${id.slice(0, SHOWN_ID_MAX_CHARS)}… (${id.length} characters)`;
}

/** The envelope `errorBody` builds, for the codes given (all of them when none are). */
export function errorBodySchema(codes: readonly ErrorCode[] = Object.keys(errorStatus) as ErrorCode[]) {
  return z.object({ error: z.object({ code: z.enum(codes as [ErrorCode, ...ErrorCode[]]), message: z.string(), request_id: z.string().optional() }) });
}
