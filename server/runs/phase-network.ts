import { Writable } from 'node:stream';
import type { NetworkPolicyConfig } from '../config/config.js';
import type { Sandbox } from '../sandbox/driver.js';

/** A phase's network policy could not be put in place: the run fails rather than go on without it. */
export class NetworkPolicyError extends Error {}

/** Whether a run of this environment needs the phase network (an `open` phase that runs). */
export function needsPhaseNetwork(environment: { setup: string[]; setupNetwork: NetworkPolicyConfig; agentNetwork: NetworkPolicyConfig }): boolean {
  return (environment.setup.length > 0 && environment.setupNetwork.policy === 'open') || environment.agentNetwork.policy === 'open';
}

/**
 * Puts a phase's policy in place before its first command: `open` joins the phase network;
 * `none` leaves it if the previous phase had joined, and then proves that loopback is all the
 * sandbox has. Returns whether the sandbox is now on the network.
 */
export async function enterPhase(sandbox: Sandbox, policy: NetworkPolicyConfig, joined: boolean, signal: AbortSignal): Promise<boolean> {
  try {
    if (policy.policy === 'allowlist') throw new NetworkPolicyError('the "allowlist" policy needs the egress proxy, which this server does not have yet');
    if (policy.policy === 'open') {
      if (!joined) await sandbox.joinNetwork(signal);
      return true;
    }
    if (joined) {
      await sandbox.leaveNetwork(signal);
      const names = await interfaces(sandbox, signal);
      if (names.some((n) => n !== 'lo')) throw new NetworkPolicyError(`the sandbox still has ${names.filter((n) => n !== 'lo').join(', ')} after leaving its phase network`);
    }
    return false;
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
