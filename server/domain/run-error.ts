// What every room says about how a run ended early or failed: the run service records it, the
// gateway and the executor raise it, the API shows it. No room above this one is imported here.

export type RunErrorCode =
  | 'provider_error'
  | 'codex_failed'
  | 'setup_failed'
  | 'network_policy_failed'
  | 'sandbox_error'
  | 'sandbox_stopped'
  | 'sandbox_gone'
  | 'docker_unreachable'
  | 'out_of_memory'
  | 'collect_timeout'
  | 'timeout'
  | 'idle_timeout'
  | 'cancelled'
  | 'shutdown'
  | 'interrupted'
  | 'provider_auth'
  | 'provider_unreachable'
  | 'provider_timeout'
  | 'budget_exceeded'
  | 'gateway_lost'
  | 'storage_full'
  // Codex's final message is not the JSON its run's output_schema asked for.
  | 'output_invalid'
  | 'internal';

export interface RunError {
  code: RunErrorCode;
  message: string;
}

/**
 * Why a run is stopped before it ends by itself: a client's cancel, its timeout, the server's
 * shutdown, or the gateway's stop of what Codex would only retry. The run's abort signal carries it.
 */
export class RunStop extends Error {
  constructor(
    readonly status: 'cancelled' | 'timed_out' | 'failed',
    readonly error: RunError,
  ) {
    super(error.message);
  }
}

/** Stops a run (idempotent: the first stop wins). */
export type StopRun = (stop: RunStop) => void;
