import type { ContentfulStatusCode } from 'hono/utils/http-status';

export const errorStatus = {
  bad_request: 400,
  invalid_options: 400,
  workspace_invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  request_timeout: 408,
  run_not_finished: 409,
  artifact_expired: 410,
  workspace_too_large: 413,
  payload_too_large: 413,
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
