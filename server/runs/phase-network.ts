import { Writable } from 'node:stream';
import type { NetworkPolicyConfig } from '../config/config.js';
import { SANDBOX_PROXY_ENV } from '../domain/sandbox-egress.js';
import type { EgressProxy } from '../egress/egress-proxy.js';
import type { Sandbox } from '../sandbox/driver.js';

/** A phase's network policy could not be put in place: the run fails rather than go on without it. */
export class NetworkPolicyError extends Error {}

interface EnvironmentNetworks {
  setup: string[];
  setupNetwork: NetworkPolicyConfig;
  agentNetwork: NetworkPolicyConfig;
}

const policies = (e: EnvironmentNetworks) => [...(e.setup.length ? [e.setupNetwork.policy] : []), e.agentNetwork.policy];

/** Whether a run of this environment needs the phase network (an `open` phase that runs). */
export const needsPhaseNetwork = (e: EnvironmentNetworks): boolean => policies(e).includes('open');
/** Whether it needs the egress proxy and its relay (an `allowlist` phase that runs). */
export const needsEgressProxy = (e: EnvironmentNetworks): boolean => policies(e).includes('allowlist');

/** What a run's network is between phases: whether the sandbox is on the phase network, and its proxy. */
export interface PhaseNetworkState {
  sandbox: Sandbox;
  egress: EgressProxy | null;
  joined: boolean;
}

/**
 * Puts a phase's policy in place before its first command and returns the variables its execs get.
 * `open` joins the phase network; `allowlist` sets the proxy's rules and gives the proxy variables;
 * `none` gives neither. Leaving the phase network is proved by listing the sandbox's interfaces; the
 * proxy refuses everything outside an `allowlist` phase.
 */
export async function enterPhase(state: PhaseNetworkState, policy: NetworkPolicyConfig, signal: AbortSignal): Promise<string[]> {
  try {
    if (policy.policy !== 'allowlist') state.egress?.setPolicy(null);
    if (policy.policy === 'open') {
      if (!state.joined) await state.sandbox.joinNetwork(signal);
      state.joined = true;
      return [];
    }
    if (state.joined) {
      await state.sandbox.leaveNetwork(signal);
      state.joined = false;
      const names = await interfaces(state.sandbox, signal);
      if (names.some((n) => n !== 'lo')) throw new NetworkPolicyError(`the sandbox still has ${names.filter((n) => n !== 'lo').join(', ')} after leaving its phase network`);
    }
    if (policy.policy === 'none') return [];
    if (!state.egress) throw new NetworkPolicyError('the "allowlist" policy needs the run\'s egress proxy, which it does not have');
    state.egress.setPolicy(policy.allow);
    return [...SANDBOX_PROXY_ENV];
  } catch (err) {
    if (signal.aborted || err instanceof NetworkPolicyError) throw err;
    throw new NetworkPolicyError(`could not apply the "${policy.policy}" network policy: ${(err as Error).message}`, { cause: err });
  }
}

/** The sandbox's network interfaces, as its kernel lists them. */
export async function interfaces(sandbox: Sandbox, signal: AbortSignal): Promise<string[]> {
  let text = '';
  const stdout = new Writable({
    write(chunk: Buffer, _enc, callback) {
      text += chunk.toString();
      callback();
    },
  });
  const code = await sandbox.exec(['cat', '/proc/net/dev'], { stdout, signal });
  if (code !== 0) throw new NetworkPolicyError('could not list the sandbox\'s network interfaces');
  return text.split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean);
}
