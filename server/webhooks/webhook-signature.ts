import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-codex-runner-signature';
export const TIMESTAMP_HEADER = 'x-codex-runner-timestamp';

/**
 * `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` with the tenant's secret: the receiver checks
 * it, and the timestamp's age, so a captured delivery cannot be replayed later.
 */
export function signWebhook(secret: string, timestampS: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex')}`;
}

/** The receiver's check, in constant time. */
export function verifyWebhook(secret: string, timestampS: number, body: string, signature: string): boolean {
  const expected = Buffer.from(signWebhook(secret, timestampS, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
