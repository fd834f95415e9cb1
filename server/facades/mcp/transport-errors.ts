import { ApiError, type ErrorCode } from '../../http/api-error.js';

/** The SDK transport's refusals (JSON-RPC error bodies) in the API's codes. */
const codeForStatus: Record<number, ErrorCode> = {
  400: 'bad_request',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/**
 * The MCP transport answers a request it will not take (not JSON, not JSON-RPC, a wrong Accept) with
 * an HTTP error and a JSON-RPC error body, which the spec makes optional: such an answer becomes
 * the API's error, so every refusal of the server has the one envelope.
 */
export async function transportRefusal(response: Response): Promise<ApiError | undefined> {
  if (response.ok || response.status === 202) return undefined;
  const code = codeForStatus[response.status] ?? 'bad_request';
  const text = await response.text().catch(() => '');
  let message = text.slice(0, 500);
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message === 'string') message = parsed.error.message;
  } catch {
    // Not JSON: the text itself, cut.
  }
  return new ApiError(code, message || `MCP request refused (${response.status})`);
}
