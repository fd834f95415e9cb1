import { describe, expect, it } from 'vitest';
import type { EgressRule } from '../egress/egress-proxy.js';
import type { ExecOptions, Sandbox } from '../sandbox/driver.js';
import { enterPhase, needsEgressProxy, needsPhaseNetwork, NetworkPolicyError, type PhaseNetworkState } from './phase-network.js';

const DEV = (names: string[]) => `Inter-|   Receive\n face |bytes\n${names.map((n) => `  ${n}: 0 0 0`).join('\n')}\n`;

function state(opts: { interfacesAfterLeave?: string[]; joinFails?: boolean } = {}) {
  const calls: string[] = [];
  const policies: (EgressRule[] | null)[] = [];
  const sandbox = {
    joinNetwork: async () => {
      calls.push('join');
      if (opts.joinFails) throw new Error('network bridge not found');
    },
    leaveNetwork: async () => void calls.push('leave'),
    exec: async (argv: string[], o: ExecOptions = {}) => {
      calls.push(argv.join(' '));
      o.stdout?.write(DEV(opts.interfacesAfterLeave ?? ['lo']));
      return 0;
    },
  } as unknown as Sandbox;
  const egress = { setPolicy: (rules: EgressRule[] | null) => void policies.push(rules), close: async () => {} };
  const s: PhaseNetworkState = { sandbox, egress: egress as unknown as PhaseNetworkState['egress'], joined: false };
  return { s, calls, policies };
}

const signal = new AbortController().signal;
const none = { policy: 'none' as const, allow: [] };
const open = { policy: 'open' as const, allow: [] };
const allow = { policy: 'allowlist' as const, allow: [{ host: 'registry.npmjs.org', port: 443 }] };

describe('per-phase network', () => {
  it('says which environments need the phase network or the proxy, counting a setup policy only with setup commands', () => {
    expect(needsPhaseNetwork({ setup: [], setupNetwork: open, agentNetwork: none })).toBe(false);
    expect(needsPhaseNetwork({ setup: ['x'], setupNetwork: open, agentNetwork: none })).toBe(true);
    expect(needsEgressProxy({ setup: ['x'], setupNetwork: allow, agentNetwork: none })).toBe(true);
    expect(needsEgressProxy({ setup: [], setupNetwork: none, agentNetwork: allow })).toBe(true);
    expect(needsEgressProxy({ setup: ['x'], setupNetwork: open, agentNetwork: none })).toBe(false);
  });

  it('joins for an open phase and leaves before a none phase, proving only loopback is left', async () => {
    const { s, calls, policies } = state();
    expect(await enterPhase(s, open, signal)).toEqual([]);
    expect(s.joined).toBe(true);
    expect(await enterPhase(s, none, signal)).toEqual([]);
    expect(calls).toEqual(['join', 'leave', 'cat /proc/net/dev']);
    expect(policies).toEqual([null, null]);
  });

  it('fails the run when an interface is left after leaving, or the network cannot be joined', async () => {
    const left = state({ interfacesAfterLeave: ['lo', 'eth0'] });
    left.s.joined = true;
    await expect(enterPhase(left.s, none, signal)).rejects.toThrow(new NetworkPolicyError('the sandbox still has eth0 after leaving its phase network'));
    await expect(enterPhase(state({ joinFails: true }).s, open, signal)).rejects.toThrow(/could not apply the "open" network policy: network bridge not found/);
  });

  it('sets the proxy\'s rules and gives the proxy variables for an allowlist phase, and refuses all after', async () => {
    const { s, policies } = state();
    const env = await enterPhase(s, allow, signal);
    expect(env).toEqual(expect.arrayContaining(['HTTPS_PROXY=http://127.0.0.1:8090', 'NO_PROXY=127.0.0.1,localhost,::1']));
    expect(await enterPhase(s, none, signal)).toEqual([]);
    expect(policies).toEqual([allow.allow, null]);
  });

  it('refuses an allowlist phase without a proxy', async () => {
    const { s } = state();
    await expect(enterPhase({ ...s, egress: null }, allow, signal)).rejects.toThrow(NetworkPolicyError);
  });
});
