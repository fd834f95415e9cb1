/**
 * Where a run's completion webhook may go: only under one of its tenant's allowed prefixes, each an
 * http(s) URL whose origin must match exactly and whose path must start the webhook's path. A
 * prefix never matches another host by spelling (`https://ci.example.org` does not allow
 * `https://ci.example.org.evil.net`), and `..` is resolved before the check. Judge0's
 * `callback_url` without such a check was an SSRF (CVE-2024-29021).
 */
export function webhookTargetProblem(raw: string, allowedPrefixes: readonly string[]): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'webhook_url is not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'webhook_url must be http or https';
  if (url.username || url.password) return 'webhook_url must not carry credentials';
  if (allowedPrefixes.length === 0) return 'webhooks are not enabled for this tenant (no webhook_prefixes)';
  if (!allowedPrefixes.some((prefix) => underPrefix(url, new URL(prefix)))) {
    return `webhook_url is not under an allowed prefix: ${allowedPrefixes.join(', ')}`;
  }
  return null;
}

function underPrefix(url: URL, prefix: URL): boolean {
  if (url.origin !== prefix.origin) return false;
  const base = prefix.pathname.endsWith('/') ? prefix.pathname : `${prefix.pathname}/`;
  return url.pathname === prefix.pathname || url.pathname.startsWith(base);
}
