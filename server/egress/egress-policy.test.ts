import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressAllowed, compilePolicy, compileRule, decide, EgressRuleError, normalizeHost, refusedRange } from './egress-policy.js';

describe('normalizeHost', () => {
  it.each([
    ['Registry.NPMJS.org.', 'registry.npmjs.org'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['[::1]', '::1'],
    ['[0:0:0:0:0:0:0:1]', '::1'],
    ['::FFFF:127.0.0.1', '::ffff:7f00:1'],
    ['10.0.0.1', '10.0.0.1'],
    ['pypi_mirror.internal', 'pypi_mirror.internal'],
  ])('%s is %s', (raw, want) => expect(normalizeHost(raw)).toBe(want));

  it.each(['', '.', 'a..b', '-a.example', 'a-.example', 'a b', 'a/b', '127.1', '0x7f000001', '2130706433', '017.0.0.1', '1.2.3.4.5', '[10.0.0.1]', '[fe80::1%eth0]', 'fe80::1%eth0', '[::127.0.0.1]', 'evil.test/x.allowed.test', 'a:b', 'a@b', 'x'.repeat(64) + '.example', `${'a.'.repeat(127)}ab`])(
    'refuses %j, which is neither a name nor an IP literal (or an inet_aton form that would be guessed at)',
    (raw) => expect(normalizeHost(raw)).toBeNull(),
  );
});

describe('compileRule', () => {
  it('tells names, suffixes and IP literals apart', () => {
    expect(compileRule({ host: 'Example.com', port: 443 }).pattern).toEqual({ kind: 'name', name: 'example.com' });
    expect(compileRule({ host: '*.Example.com.', port: 443 }).pattern).toEqual({ kind: 'suffix', suffix: 'example.com' });
    expect(compileRule({ host: '127.0.0.1', port: 80 }).pattern).toEqual({ kind: 'ip', ip: '127.0.0.1' });
    expect(compileRule({ host: '[::1]', port: 80 }).pattern).toEqual({ kind: 'ip', ip: '::1' });
  });

  it.each([
    [{ host: 'example.com', port: 0 }],
    [{ host: 'example.com', port: 65_536 }],
    [{ host: 'example.com', port: 1.5 }],
    [{ host: '*.10.0.0.1', port: 80 }],
    [{ host: '*', port: 80 }],
    [{ host: 'a..b', port: 80 }],
    [{ host: 'http://example.com', port: 80 }],
  ])('refuses %j with the rule named', (rule) => {
    expect(() => compileRule(rule)).toThrow(EgressRuleError);
    expect(() => compileRule(rule)).toThrow(JSON.stringify(rule.host));
  });
});

describe('decide', () => {
  const policy = compilePolicy([
    { host: 'registry.npmjs.org', port: 443 },
    { host: '*.pythonhosted.org', port: 443 },
    { host: '127.0.0.1', port: 8080 },
    { host: '::1', port: 8081 },
  ]);

  it('allows a listed name on its port, whatever its case or trailing dot', () => {
    expect(decide(policy, 'REGISTRY.npmjs.org.', 443)).toMatchObject({ allowed: true, host: 'registry.npmjs.org' });
  });

  it('allows names under a suffix but not the suffix itself', () => {
    expect(decide(policy, 'files.pythonhosted.org', 443).allowed).toBe(true);
    expect(decide(policy, 'a.b.pythonhosted.org', 443).allowed).toBe(true);
    expect(decide(policy, 'pythonhosted.org', 443)).toEqual({ allowed: false, reason: 'pythonhosted.org is not on the allow-list' });
    expect(decide(policy, 'evilpythonhosted.org', 443).allowed).toBe(false);
  });

  it('refuses a listed host on another port, saying so', () => {
    expect(decide(policy, 'registry.npmjs.org', 80)).toEqual({ allowed: false, reason: 'port 80 is not allowed for registry.npmjs.org' });
  });

  it('lets an IP literal in only through a rule naming that IP, in any spelling', () => {
    expect(decide(policy, '127.0.0.1', 8080).allowed).toBe(true);
    expect(decide(policy, '[0::1]', 8081).allowed).toBe(true);
    expect(decide(policy, '127.0.0.2', 8080).allowed).toBe(false);
    expect(decide(policy, '::ffff:127.0.0.1', 8080).allowed).toBe(false);
  });

  it('refuses everything without a policy, and what is no host', () => {
    expect(decide(null, 'registry.npmjs.org', 443)).toEqual({ allowed: false, reason: 'no egress is allowed now' });
    expect(decide(compilePolicy([]), 'registry.npmjs.org', 443).allowed).toBe(false);
    expect(decide(policy, '0x7f000001', 8080)).toEqual({ allowed: false, reason: 'not a host name or an IP address' });
    expect(decide(policy, 'registry.npmjs.org', 70_000).allowed).toBe(false);
  });

  it('never allows what no rule names (property)', () => {
    const label = fc.stringMatching(/^[a-z0-9]{1,10}$/);
    fc.assert(
      fc.property(fc.array(fc.record({ host: fc.array(label, { minLength: 2, maxLength: 3 }).map((l) => l.join('.') + '.test'), port: fc.integer({ min: 1, max: 65_535 }) }), { maxLength: 5 }), fc.array(label, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 65_535 }), (rules, labels, port) => {
        const host = labels.join('.') + '.test';
        const d = decide(compilePolicy(rules), host, port);
        const listed = rules.some((r) => r.host === host && r.port === port);
        expect(d.allowed).toBe(listed);
      }),
    );
  });
});

describe('refusedRange', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['169.254.169.254', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['169.254.1.1', 'link_local'],
    ['fe80::1', 'link_local'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['192.0.0.192', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['::127.0.0.1', 'reserved'],
    ['::8.8.8.8', 'reserved'],
    ['0:0:0:0:0:0:10.0.0.1', 'reserved'],
    // IPv4 addresses in IPv6 clothing are judged as the IPv4 address they stand for.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['2002:7f00:1::1', 'loopback'],
    ['2002:a9fe:a9fe::', 'metadata'],
  ])('%s is %s', (ip, want) => expect(refusedRange(ip)).toBe(want));

  it.each(['8.8.8.8', '104.16.1.1', '172.32.0.1', '172.15.255.255', '100.128.0.1', '169.255.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::8.8.8.8', '2002:808:808::1'])('%s is public', (ip) => {
    expect(refusedRange(ip)).toBeNull();
  });

  it('judges every IPv4 address and its IPv4-mapped form alike (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(refusedRange(`::ffff:${ip}`)).toBe(refusedRange(ip));
      }),
    );
  });
});

describe('addressAllowed', () => {
  const name = compileRule({ host: 'internal.test', port: 80 });
  const loopback = compileRule({ host: '127.0.0.1', port: 80 });

  it('keeps a name away from loopback, private and metadata addresses', () => {
    expect(addressAllowed('127.0.0.1', name)).toEqual({ allowed: false, reason: '127.0.0.1 is a loopback address' });
    expect(addressAllowed('::ffff:127.0.0.1', name)).toEqual({ allowed: false, reason: '::ffff:7f00:1 is a loopback address' });
    expect(addressAllowed('169.254.169.254', name)).toEqual({ allowed: false, reason: '169.254.169.254 is a metadata address' });
    expect(addressAllowed('10.0.0.1', name)).toEqual({ allowed: false, reason: '10.0.0.1 is a private address' });
    expect(addressAllowed('fe80::1', name)).toEqual({ allowed: false, reason: 'fe80::1 is a link-local address' });
    expect(addressAllowed('93.184.216.34', name)).toEqual({ allowed: true });
  });

  it('lets a rule that names an IP reach that IP only', () => {
    expect(addressAllowed('127.0.0.1', loopback)).toEqual({ allowed: true });
    expect(addressAllowed('127.0.0.2', loopback).allowed).toBe(false);
    expect(addressAllowed('8.8.8.8', loopback).allowed).toBe(false);
  });

  it('refuses what is no address', () => {
    expect(addressAllowed('localhost', name).allowed).toBe(false);
  });
});
