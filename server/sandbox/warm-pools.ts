import type { ClaimedSandbox, SandboxShape, WarmPool } from './warm-pool.js';

/** The default shape's pool and each pooled environment's, served as one: a claim goes to the pool of its shape. */
export class WarmPools {
  constructor(private readonly pools: readonly WarmPool[]) {}

  start(): void {
    for (const pool of this.pools) pool.start();
  }

  /** A waiting sandbox of `shape` from the pool that makes that shape; null when none waits. */
  async claim(shape: SandboxShape): Promise<ClaimedSandbox | null> {
    for (const pool of this.pools) {
      const claimed = await pool.claim(shape);
      if (claimed) return claimed;
    }
    return null;
  }

  owns(labelRunId: string): boolean {
    return this.pools.some((pool) => pool.owns(labelRunId));
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.close()));
  }
}
