import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests start real containers running real Codex; a few wait out Codex's retries.
    testTimeout: 90_000,
    hookTimeout: 60_000,
    // Two cores here: more parallel files only queue up behind Docker.
    maxWorkers: 3,
    // Memory bounds are asserted on what stays reachable after a collection, not on GC timing.
    execArgv: ['--expose-gc'],
    projects: [
      // Beside the code, no engine: they must pass with Docker unreachable.
      { extends: true, test: { name: 'unit', include: ['server/**/*.test.ts'] } },
      // Real Docker, the real sandbox image and real Codex: the setup fails loudly without them.
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], globalSetup: ['test/global-setup.ts'] } },
    ],
  },
});
