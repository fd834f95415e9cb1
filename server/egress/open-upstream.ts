import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { addressAllowed, decide, type CompiledRule, type EgressPolicy } from './egress-policy.js';

export type Resolve = (host: string) => Promise<string[]>;

/** What the system resolver says `host` is: every address, in its order. */
export const resolveAll: Resolve = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** A connection to a checked address, or why there is none: `allowed` says whether the policy let it get as far as connecting. */
export type Opened =
  | { ok: true; host: string; address: string; rule: CompiledRule; socket: net.Socket }
  | { ok: false; allowed: boolean; status: number; code: string; reason: string; address: string | null };

/**
 * Decides `host:port`, resolves an allowed name itself and connects to an address it checked, never
 * to a name: what the check saw is what is reached, whatever a second lookup would say. A name any
 * of whose addresses is refused is refused whole. Everything within `timeoutMs`.
 */
export async function openUpstream(policy: () => EgressPolicy, rawHost: string, port: number, resolve: Resolve, timeoutMs: number): Promise<Opened> {
  const decision = decide(policy(), rawHost, port);
  if (!decision.allowed) return { ok: false, allowed: false, status: 403, code: 'egress_refused', reason: decision.reason, address: null };
  const { host, rule } = decision;
  const deadline = Date.now() + timeoutMs;
  let addresses: string[];
  if (rule.pattern.kind === 'ip') addresses = [host];
  else {
    try {
      addresses = await withDeadline(resolve(host), deadline, `resolving ${host} took over ${timeoutMs} ms`);
    } catch (err) {
      return { ok: false, allowed: true, status: 502, code: 'egress_unresolved', reason: `could not resolve ${host}: ${(err as Error).message}`, address: null };
    }
    if (!addresses.length) return { ok: false, allowed: true, status: 502, code: 'egress_unresolved', reason: `${host} has no address`, address: null };
  }
  for (const address of addresses) {
    const check = addressAllowed(address, rule);
    if (!check.allowed) return { ok: false, allowed: false, status: 403, code: 'egress_refused', reason: `${host} resolves to a refused address: ${check.reason}`, address };
  }
  let last = '';
  for (const address of addresses) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      const socket = await connect(address, port, left);
      // The policy may have changed while this one resolved and connected (the setup phase ended).
      const now = decide(policy(), host, port);
      if (!now.allowed || !addressAllowed(address, now.rule).allowed) {
        socket.destroy();
        return { ok: false, allowed: false, status: 403, code: 'egress_refused', reason: 'the egress policy changed while connecting', address };
      }
      return { ok: true, host, address, rule: now.rule, socket };
    } catch (err) {
      last = (err as Error).message;
    }
  }
  const timedOut = Date.now() >= deadline;
  return {
    ok: false,
    allowed: true,
    status: timedOut ? 504 : 502,
    code: timedOut ? 'egress_timeout' : 'egress_unreachable',
    reason: timedOut ? `connecting to ${host}:${port} took over ${timeoutMs} ms` : `could not connect to ${host}:${port}: ${last}`,
    address: addresses[0] ?? null,
  };
}

function connect(address: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(err.code ?? err.message));
    });
  });
}

function withDeadline<T>(work: Promise<T>, deadline: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
