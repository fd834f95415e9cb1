import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import type { TenantConfig } from '../config/config.js';
import { ApiError } from './api-error.js';

export type AuthEnv = { Variables: { tenant: string } };

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Maps a bearer token to its tenant by comparing sha256 digests in constant time. */
export class TokenAuthenticator {
  private readonly digests: { name: string; digest: Buffer }[];

  constructor(tenants: TenantConfig[]) {
    if (tenants.length === 0) throw new Error('at least one tenant is needed: the API is never served unauthenticated');
    this.digests = tenants.map((t) => ({ name: t.name, digest: Buffer.from(t.tokenSha256, 'hex') }));
  }

  tenantFor(token: string): string | undefined {
    const digest = createHash('sha256').update(token).digest();
    let match: string | undefined;
    for (const t of this.digests) if (timingSafeEqual(t.digest, digest)) match ??= t.name;
    return match;
  }
}

/**
 * With no [[tenants]] in the config, one tenant "default" whose token comes from CODEX_RUNNER_TOKEN,
 * or is made now and returned so the caller can print it once.
 */
export function defaultTenant(env: Record<string, string | undefined>): { tenant: TenantConfig; generatedToken?: string } {
  const fromEnv = env.CODEX_RUNNER_TOKEN?.trim();
  const token = fromEnv || `cr_${randomBytes(24).toString('base64url')}`;
  return { tenant: { name: 'default', tokenSha256: sha256Hex(token) }, generatedToken: fromEnv ? undefined : token };
}

function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

export function requireTenant(auth: TokenAuthenticator) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    const tenant = token ? auth.tenantFor(token) : undefined;
    if (!tenant) {
      c.header('WWW-Authenticate', 'Bearer');
      throw new ApiError('unauthorized', token ? 'invalid bearer token' : 'missing bearer token (Authorization: Bearer <token>)');
    }
    c.set('tenant', tenant);
    await next();
  });
}

/** `metrics.token_sha256` when one is configured (compared in constant time), else any tenant's token. */
export function requireMetricsToken(auth: TokenAuthenticator, tokenSha256: string) {
  const metrics = tokenSha256 ? new TokenAuthenticator([{ name: 'metrics', tokenSha256 }]) : auth;
  return createMiddleware(async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    if (!token || !metrics.tenantFor(token)) {
      c.header('WWW-Authenticate', 'Bearer');
      throw new ApiError('unauthorized', token ? 'invalid bearer token' : 'missing bearer token (Authorization: Bearer <token>)');
    }
    await next();
  });
}
