// `codex-runner token [--tenant NAME]`: a new API token, and the [[tenants]] block that admits it
// (the server keeps only the token's sha256).
import { createHash, randomBytes } from 'node:crypto';
import { stringify } from 'smol-toml';
import { CliError, EXIT } from '../exit-codes.js';

const TENANT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function newToken(): string {
  return `cr_${randomBytes(24).toString('base64url')}`;
}

/** The text `token` prints: the token as a TOML comment, then the tenant's block. */
export function tokenText(tenant: string, token: string): string {
  if (!TENANT_NAME.test(tenant)) throw new CliError(EXIT.usage, `tenant name ${JSON.stringify(tenant)}: lowercase letters, digits, - and _ (at most 63)`);
  const block = stringify({ tenants: [{ name: tenant, token_sha256: createHash('sha256').update(token).digest('hex') }] });
  return `# token (give it to the client; it is not stored anywhere): ${token}\n${block}\n`;
}
