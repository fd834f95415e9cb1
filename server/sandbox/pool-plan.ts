/** What the warm pool holds now, as its planner sees it. */
export interface PoolState {
  /** The sandboxes waiting for a run, with how long each has waited. */
  idle: { id: string; idleMs: number }[];
  /** Sandboxes being started for the pool. */
  starting: number;
  /** Sandboxes the pool should hold. */
  size: number;
  /** The host's available memory, and the floor below which the pool gives its sandboxes back. */
  availableMb: number;
  minAvailableMb: number;
  /** An idle sandbox older than this is replaced by a fresh one. */
  maxIdleMs: number;
  /** Sandboxes started at once, at most: each start costs the engine and a core. */
  maxStarting: number;
}

export interface PoolPlan {
  /** How many sandboxes to start now. */
  start: number;
  /** The idle sandboxes to remove now. */
  retire: string[];
}

/**
 * One pass of the pool: refill to its size, replace what idled too long, and give everything idle
 * back while the host is short of memory (a run needs it more than a sandbox that may never be used).
 */
export function planPool(state: PoolState): PoolPlan {
  if (state.availableMb < state.minAvailableMb) return { start: 0, retire: state.idle.map((m) => m.id) };
  const stale = state.idle.filter((m) => m.idleMs >= state.maxIdleMs).map((m) => m.id);
  const kept = state.idle.length - stale.length;
  const missing = Math.max(0, state.size - kept - state.starting);
  const room = Math.max(0, state.maxStarting - state.starting);
  // Past its size (the config shrank) the newest stay and the oldest go.
  const surplus = Math.max(0, kept - state.size);
  const extra = state.idle
    .filter((m) => m.idleMs < state.maxIdleMs)
    .sort((a, b) => b.idleMs - a.idleMs)
    .slice(0, surplus)
    .map((m) => m.id);
  return { start: Math.min(missing, room), retire: [...stale, ...extra] };
}
