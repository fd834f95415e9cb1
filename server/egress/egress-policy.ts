import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';

/** One allowed destination: a DNS name, `*.suffix` (any name under it, not itself) or an IP literal, and a port. */
export interface EgressRule {
  host: string;
  port: number;
}

type Pattern = { kind: 'name'; name: string } | { kind: 'suffix'; suffix: string } | { kind: 'ip'; ip: string };

export interface CompiledRule {
  pattern: Pattern;
  port: number;
}

/** The allow-list as the proxy checks it; null (no policy) refuses everything. */
export type EgressPolicy = readonly CompiledRule[] | null;

export type Decision = { allowed: true; rule: CompiledRule; host: string } | { allowed: false; reason: string };

export class EgressRuleError extends Error {}

// RFC 1035 labels after punycode: letters, digits, hyphens (and `_`, which real registries' names use).
const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/**
 * The canonical form of a host as a request names it: an IP literal in ipaddr.js's canonical text
 * (brackets dropped, IPv6 compressed and lower-case, IPv4 dotted-quad only), or a lower-case ASCII
 * name without its trailing dot, IDN labels in punycode. Null when it is neither.
 */
export function normalizeHost(raw: string): string | null {
  let host = raw.trim();
  if (host.startsWith('[') && host.endsWith(']')) return canonicalIpv6(host.slice(1, -1));
  // Only the four-part dotted decimal form is an IPv4 literal: `127.1`, `0x7f.1` and `2130706433`
  // are what inet_aton accepts, and a name that looks like one is refused rather than guessed at.
  if (ipaddr.IPv4.isValidFourPartDecimal(host)) return ipaddr.IPv4.parse(host).toString();
  if (ipaddr.IPv4.isValid(host)) return null;
  if (host.includes(':')) return canonicalIpv6(host);
  // domainToASCII parses a URL host: `evil.test/x.allowed.test` would come back as `evil.test`.
  if (NOT_IN_A_NAME.test(host)) return null;
  if (host.endsWith('.')) host = host.slice(0, -1);
  const ascii = domainToASCII(host);
  if (!ascii || ascii.length > 253) return null;
  const labels = ascii.split('.');
  if (!labels.every((l) => LABEL.test(l))) return null;
  // A name whose last label is all digits would be read as an IPv4 address by some resolvers.
  if (/^[0-9]+$/.test(labels.at(-1)!)) return null;
  return ascii;
}

const NOT_IN_A_NAME = /[^A-Za-z0-9._\-\u0080-\uffff]/;

function canonicalIpv6(text: string): string | null {
  if (!ipaddr.IPv6.isValid(text) || text.includes('%') || ipv4Compatible(text)) return null;
  return ipaddr.IPv6.parse(text).toString();
}

/**
 * The deprecated IPv4-compatible form (`::127.0.0.1`): ipaddr.js reads it as IPv4-mapped
 * (`::ffff:127.0.0.1`), another address, so it is told apart here and refused.
 */
function ipv4Compatible(text: string): boolean {
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (!m || !ipaddr.IPv6.isValid(`${m[1]}0:0`)) return false;
  return ipaddr.IPv6.parse(`${m[1]}0:0`).toByteArray().slice(0, 12).every((b) => b === 0);
}

/** Whether a host normalizeHost returned is an IP literal rather than a name. */
export function isIpLiteral(host: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(host) || (host.includes(':') && ipaddr.IPv6.isValid(host));
}

const validPort = (port: number) => Number.isInteger(port) && port >= 1 && port <= 65_535;

export function compileRule(rule: EgressRule): CompiledRule {
  if (!validPort(rule.port)) throw new EgressRuleError(`egress rule ${JSON.stringify(rule.host)}: port ${rule.port} is not 1-65535`);
  const raw = rule.host.trim();
  if (raw.startsWith('*.')) {
    const suffix = normalizeHost(raw.slice(2));
    if (!suffix || isIpLiteral(suffix)) throw new EgressRuleError(`egress rule ${JSON.stringify(rule.host)}: not a DNS suffix`);
    return { pattern: { kind: 'suffix', suffix }, port: rule.port };
  }
  const host = normalizeHost(raw);
  if (!host) throw new EgressRuleError(`egress rule ${JSON.stringify(rule.host)}: not a host name or an IP address`);
  return { pattern: isIpLiteral(host) ? { kind: 'ip', ip: host } : { kind: 'name', name: host }, port: rule.port };
}

/** Compiles an allow-list; throws EgressRuleError naming the first bad rule. */
export function compilePolicy(rules: readonly EgressRule[] | null): EgressPolicy {
  return rules === null ? null : rules.map(compileRule);
}

function matches(pattern: Pattern, host: string): boolean {
  switch (pattern.kind) {
    case 'ip':
      return host === pattern.ip;
    case 'name':
      return host === pattern.name;
    case 'suffix':
      return host.endsWith(`.${pattern.suffix}`);
  }
}

/**
 * Whether a request for `host:port` may go on to name resolution. A name matches only name and
 * suffix rules, an IP literal only a rule naming that IP: `*.example.com` never lets `10.0.0.1` in.
 */
export function decide(policy: EgressPolicy, rawHost: string, port: number): Decision {
  if (policy === null) return { allowed: false, reason: 'no egress is allowed now' };
  const host = normalizeHost(rawHost);
  if (!host) return { allowed: false, reason: 'not a host name or an IP address' };
  if (!validPort(port)) return { allowed: false, reason: `port ${port} is not 1-65535` };
  const ip = isIpLiteral(host);
  const named = policy.filter((r) => (ip ? r.pattern.kind === 'ip' : r.pattern.kind !== 'ip') && matches(r.pattern, host));
  if (!named.length) return { allowed: false, reason: `${host} is not on the allow-list` };
  const rule = named.find((r) => r.port === port);
  if (!rule) return { allowed: false, reason: `port ${port} is not allowed for ${host}` };
  return { allowed: true, rule, host };
}

// What a sandbox must not reach through a name, however the name resolves. Checked in this order,
// so the first match names the reason (the metadata addresses lie inside link-local and ULA).
const REFUSED: ReadonlyArray<readonly [string, string]> = [
  ['169.254.169.254/32', 'metadata'],
  ['fd00:ec2::254/128', 'metadata'],
  ['0.0.0.0/8', 'unspecified'],
  ['::/128', 'unspecified'],
  ['127.0.0.0/8', 'loopback'],
  ['::1/128', 'loopback'],
  ['169.254.0.0/16', 'link_local'],
  ['fe80::/10', 'link_local'],
  ['10.0.0.0/8', 'private'],
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  ['fc00::/7', 'private'],
  ['fec0::/10', 'private'],
  ['100.64.0.0/10', 'cgnat'],
  ['224.0.0.0/4', 'multicast'],
  ['ff00::/8', 'multicast'],
  // IETF protocol assignments (192.0.0.192 is a cloud's metadata), documentation, benchmarking,
  // the reserved class E and broadcast; in IPv6 the discard prefix, documentation, the deprecated
  // IPv4-compatible ::/96, local-use NAT64 and Teredo (which hides an IPv4 address).
  ['192.0.0.0/24', 'reserved'],
  ['192.0.2.0/24', 'reserved'],
  ['198.18.0.0/15', 'reserved'],
  ['198.51.100.0/24', 'reserved'],
  ['203.0.113.0/24', 'reserved'],
  ['240.0.0.0/4', 'reserved'],
  ['100::/64', 'reserved'],
  ['2001:db8::/32', 'reserved'],
  ['::/96', 'reserved'],
  ['64:ff9b:1::/48', 'reserved'],
  ['2001::/32', 'reserved'],
];
const REFUSED_PARSED = REFUSED.map(([cidr, reason]) => ({ range: ipaddr.parseCIDR(cidr), reason }));

/** The IPv4 address an IPv6 one stands for (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16), if any. */
function embeddedIpv4(addr: ipaddr.IPv6): ipaddr.IPv4 | null {
  const b = addr.toByteArray();
  const range = addr.range();
  if (range === 'ipv4Mapped' || range === 'rfc6052') return new ipaddr.IPv4(b.slice(12, 16));
  if (range === '6to4') return new ipaddr.IPv4(b.slice(2, 6));
  return null;
}

/** Why `ip` is no address a name may lead to (`loopback`, `private`, `metadata`...), or null when it may. */
export function refusedRange(ip: string): string | null {
  if (!ipaddr.isValid(ip)) return 'not_an_address';
  if (ip.includes(':') && ipv4Compatible(ip)) return 'reserved';
  const addr = ipaddr.parse(ip);
  const candidates: ipaddr.IPv4 | ipaddr.IPv6 = addr.kind() === 'ipv6' ? (embeddedIpv4(addr as ipaddr.IPv6) ?? addr) : addr;
  for (const { range, reason } of REFUSED_PARSED) {
    if (candidates.kind() === range[0].kind() && candidates.match(range)) return reason;
  }
  return null;
}

/**
 * Whether the proxy may connect to `ip` for a request `rule` allowed: any address outside the
 * refused ranges, and one inside them only when the rule names that very IP. A name rule never
 * reaches a private or loopback address, even one another rule lists by IP.
 */
export function addressAllowed(ip: string, rule: CompiledRule): { allowed: true } | { allowed: false; reason: string } {
  if (!ipaddr.isValid(ip)) return { allowed: false, reason: `${ip} is not an address` };
  const canonical = ipaddr.parse(ip).toString();
  if (rule.pattern.kind === 'ip') {
    return rule.pattern.ip === canonical ? { allowed: true } : { allowed: false, reason: `${canonical} is not the listed ${rule.pattern.ip}` };
  }
  const range = refusedRange(canonical);
  return range ? { allowed: false, reason: `${canonical} is a ${range.replace('_', '-')} address` } : { allowed: true };
}
