import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

export interface ProxyTarget {
  host: string;
  port: number;
}

// CONNECT's request-target is an authority (RFC 9110 9.3.6): host:port, an IPv6 literal in brackets,
// the port required. Nothing else: no userinfo, no path.
const AUTHORITY = /^(\[[0-9A-Fa-f:.]+\]|[^\s:@/?#[\]]+):([0-9]{1,5})$/;

/** The host and port a CONNECT names, or null when its target is no authority. */
export function parseConnectTarget(url: string | undefined): ProxyTarget | null {
  const m = AUTHORITY.exec(url ?? '');
  if (!m) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65_535 ? { host: m[1]!, port } : null;
}

/** A plain-HTTP proxy request's absolute-form target (`http://host[:port]/path`), or null when it is not one. */
export function parseForwardTarget(url: string | undefined): (ProxyTarget & { path: string; authority: string }) | null {
  if (!url || !/^http:\/\//i.test(url)) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (!parsed.hostname) return null;
  const port = parsed.port ? Number(parsed.port) : 80;
  return { host: parsed.hostname, port, path: `${parsed.pathname}${parsed.search}`, authority: parsed.host };
}

// RFC 9110 7.6.1: a proxy forwards none of these, nor any header the Connection header names.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** `headers` without the hop-by-hop ones, for the next hop. */
export function endToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}
