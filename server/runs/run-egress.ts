import path from 'node:path';
import type { Logger } from 'pino';
import { EGRESS_SOCKET_NAME, openEgressProxy, type EgressConnection, type EgressProxy } from '../egress/egress-proxy.js';
import { egressEvent } from '../egress/egress-event.js';
import type { GatewayEndpoint } from '../sandbox/driver.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import type { EventLog } from './event-log.js';

/** Connections recorded in one run's events; past it they are counted in one last event, and still in the metrics. */
const EGRESS_EVENTS_MAX = 1000;

/**
 * The run's egress proxy, beside its gateway socket: it refuses everything until a phase whose policy
 * is "allowlist" sets its rules. Every connection is an `egress` event and a metric.
 */
export async function openRunEgress(
  gateway: GatewayEndpoint,
  socketGid: number,
  events: EventLog,
  telemetry: Pick<Telemetry, 'egressConnection'> | undefined,
  log: Logger,
): Promise<EgressProxy> {
  let recorded = 0;
  const onConnection = (c: EgressConnection) => {
    telemetry?.egressConnection(c.allowed, c.bytesUp, c.bytesDown);
    if (!c.allowed) log.info({ host: c.host, port: c.port, reason: c.reason }, 'egress refused');
    recorded++;
    if (recorded <= EGRESS_EVENTS_MAX) {
      events.append('egress', egressEvent(c));
    } else if (recorded === EGRESS_EVENTS_MAX + 1) {
      events.append('egress', { type: 'egress.events_truncated', max_events: EGRESS_EVENTS_MAX });
    }
  };
  return openEgressProxy({ socketPath: path.join(gateway.socketDir, EGRESS_SOCKET_NAME), rules: null, onConnection, socketGid });
}
