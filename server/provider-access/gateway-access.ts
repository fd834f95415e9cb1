import { emptyProviderUsage } from '../domain/provider-usage.js';
import { RunStop } from '../domain/run-error.js';
import type { GatewaySockets } from '../gateway/gateway-server.js';
import type { GatewayGrant, GatewayTokens } from '../gateway/tokens.js';
import { SANDBOX_GATEWAY_URL } from '../sandbox/driver.js';
import type { ProviderAccess, ProviderAccessRequest } from './provider-access.js';

/** Codex sends this variable's value as its bearer token: the run's gateway token, never a real key. */
export const GATEWAY_TOKEN_ENV = 'CODEX_RUNNER_GATEWAY_TOKEN';

export interface GatewayAccessDeps {
  tokens: GatewayTokens;
  sockets: Pick<GatewaySockets, 'listen'>;
  /** The sandbox needs no network: the gateway is reached through its socket. */
  sandboxNetwork: string;
}

/**
 * The default delivery: the key stays on the server. The run gets a token valid only on its own
 * gateway socket, and Codex talks to the gateway on the sandbox's loopback.
 */
export async function openGatewayAccess(deps: GatewayAccessDeps, request: ProviderAccessRequest): Promise<ProviderAccess> {
  const { provider } = request;
  const usage = emptyProviderUsage();
  const grant: GatewayGrant = { runId: request.runId, provider, model: request.model, budget: request.budget, usage, stopRun: request.stop, lastFault: null };
  const token = deps.tokens.issue(grant);
  let socket;
  try {
    // Its file gone, nothing reaches the gateway any more: the run ends now, not at its timeout.
    const lost = (why: string) => request.stop(new RunStop('failed', { code: 'gateway_lost', message: why }));
    socket = await deps.sockets.listen(request.runId, request.reservedSocketDir, lost);
  } catch (err) {
    token.revoke();
    throw err;
  }
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      token.revoke();
      await socket.close();
    })());
  return {
    network: deps.sandboxNetwork,
    gateway: { socketDir: socket.dir, relativeDir: socket.subdir },
    codex: {
      name: `${provider.name} via codex-runner`,
      baseUrl: SANDBOX_GATEWAY_URL,
      envKey: GATEWAY_TOKEN_ENV,
      // The gateway adds the provider's headers and query parameters itself, with the key.
      headers: {},
      queryParams: {},
      requestMaxRetries: provider.requestMaxRetries,
      streamMaxRetries: provider.streamMaxRetries,
    },
    codexEnv: () => [`${GATEWAY_TOKEN_ENV}=${token.token}`],
    usage: () => usage,
    fault: () => grant.lastFault ?? null,
    close,
    [Symbol.asyncDispose]: close,
  };
}
