import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['server/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Integration tests start real containers running real Codex; a few wait out Codex's retries.
    testTimeout: 90_000,
    hookTimeout: 60_000,
    // Two cores here: more parallel files only queue up behind Docker.
    maxWorkers: 3,
    // Memory bounds are asserted on what stays reachable after a collection, not on GC timing.
    execArgv: ['--expose-gc'],
  },
});
