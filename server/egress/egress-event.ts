import type { EgressConnection } from './egress-proxy.js';

/** An `egress` event as a run's event log holds it: the wire's snake_case, a refusal's reason only when there is one. */
export interface EgressEvent {
  type: 'egress';
  host: string;
  port: number;
  address: string | null;
  allowed: boolean;
  reason?: string;
  bytes_up: number;
  bytes_down: number;
  ms: number;
}

export function egressEvent(c: EgressConnection): EgressEvent {
  return {
    type: 'egress',
    host: c.host,
    port: c.port,
    address: c.address,
    allowed: c.allowed,
    ...(c.reason !== null ? { reason: c.reason } : {}),
    bytes_up: c.bytesUp,
    bytes_down: c.bytesDown,
    ms: Math.round(c.ms * 10) / 10,
  };
}
