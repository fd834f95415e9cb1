import { z } from 'zod';
import type { RunCursor } from '../runs/run-store.js';
import { runStatuses, type RunStatus } from '../runs/run.js';
import { ApiError } from './api-error.js';

export const LIST_DEFAULT_LIMIT = 20;
export const LIST_MAX_LIMIT = 100;

export interface RunListRequest {
  status?: RunStatus;
  limit: number;
  after?: RunCursor;
}

export const querySchema = z.object({
  status: z.enum(runStatuses).optional(),
  limit: z
    .string()
    .regex(/^[1-9]\d{0,2}$/, `an integer from 1 to ${LIST_MAX_LIMIT}`)
    .transform(Number)
    .refine((n) => n <= LIST_MAX_LIMIT, `an integer from 1 to ${LIST_MAX_LIMIT}`)
    .optional(),
  cursor: z.string().optional(),
});

/** `GET /v1/runs`'s query, validated; a bad value is a 400 naming the parameter. */
export function parseRunListQuery(query: Record<string, string>): RunListRequest {
  const parsed = querySchema.safeParse(query);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ApiError('bad_request', `query parameter ${issue.path.join('.')}: ${issue.message}`);
  }
  const { status, limit = LIST_DEFAULT_LIMIT, cursor } = parsed.data;
  return { status, limit, ...(cursor === undefined ? {} : { after: decodeCursor(cursor) }) };
}

/** Opaque to clients: where the next page starts, the last run's creation time and id. */
export function encodeCursor(cursor: RunCursor): string {
  return Buffer.from(`${cursor.createdAt.getTime()}.${cursor.id}`).toString('base64url');
}

function decodeCursor(text: string): RunCursor {
  const match = /^(\d{1,15})\.(run_[0-9a-f]{20})$/.exec(/^[A-Za-z0-9_-]{1,200}$/.test(text) ? Buffer.from(text, 'base64url').toString('latin1') : '');
  if (!match) throw new ApiError('bad_request', 'query parameter cursor: not a cursor this server gave');
  return { createdAt: new Date(Number(match[1])), id: match[2]! };
}
