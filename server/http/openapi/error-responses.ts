import { z } from 'zod';
import type { ZodOpenApiResponseObject } from 'zod-openapi';
import { errorBodySchema, errorStatus, type ErrorCode } from '../api-error.js';

type ErrorStatus = (typeof errorStatus)[ErrorCode];

/** The codes the API answers with `status`, from the one code→status table. */
export function codesFor(status: ErrorStatus): ErrorCode[] {
  return (Object.keys(errorStatus) as ErrorCode[]).filter((code) => errorStatus[code] === status);
}

const bodies = new Map<ErrorStatus, ReturnType<typeof errorBodySchema>>();

/** The error envelope for one status, its code limited to that status's codes: one component per status. */
function bodyFor(status: ErrorStatus) {
  let body = bodies.get(status);
  if (!body) {
    body = errorBodySchema(codesFor(status)).meta({ id: `Error${status}` });
    bodies.set(status, body);
  }
  return body;
}

/** The answers of an operation for each error status it can give, keyed as the document's `responses`. */
export function errorResponses(...statuses: ErrorStatus[]): Record<string, ZodOpenApiResponseObject> {
  const all = [...new Set([...statuses, ...SERVER_WIDE])].sort((a, b) => a - b);
  return Object.fromEntries(
    all.map((status) => [
      String(status),
      {
        description: `${codesFor(status).join(', ')}${status === 401 ? ' (with `WWW-Authenticate: Bearer`)' : ''}`,
        content: { 'application/json': { schema: bodyFor(status) } },
        ...(HEADERS[status] ? { headers: HEADERS[status] } : {}),
      },
    ]),
  );
}

const retryAfter = z.object({
  'Retry-After': z.string().regex(/^\d+$/).optional().meta({ description: 'Seconds until asking again may succeed, when the server can tell' }),
});
const HEADERS: Partial<Record<ErrorStatus, z.ZodObject>> = {
  401: z.object({ 'WWW-Authenticate': z.literal('Bearer') }),
  429: retryAfter,
  503: retryAfter,
};

/**
 * Any route may give these: Node's parser refuses a malformed request (400), one whose headers are
 * too large (431) or late (408) before a route is chosen, and an unexpected failure is a bare 500.
 */
const SERVER_WIDE: ErrorStatus[] = [400, 408, 431, 500];
