// The containment issue's attacks, from inside a sandbox, against the real server process: each
// gets its outcome and the server's peak memory through all of them stays under a stated bound.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startResponsesStandIn, STAND_IN_MODEL, type ResponsesStandIn } from './fixtures/responses-stand-in.js';
import { RUN_ATTACK_PEAK_RSS_BOUND_BYTES, RUN_ATTACK_SERVER_CONFIG, runAttacks } from './fixtures/run-attacks.js';
import { startServerProcess, type ServerProcess } from './fixtures/server-process.js';

describe('the real server process through each attack a run makes from its sandbox', () => {
  let standIn: ResponsesStandIn;
  let server: ServerProcess;
  beforeAll(async () => {
    standIn = await startResponsesStandIn();
    server = await startServerProcess(
      { ...RUN_ATTACK_SERVER_CONFIG, providers: { standin: { base_url: standIn.url, key_env: 'STANDIN_KEY' } }, defaults: { provider: 'standin', model: STAND_IN_MODEL } },
      { STANDIN_KEY: 'sk-run-attacks' },
    );
  });
  afterAll(async () => {
    await server?.close();
    await standIn?.close();
  });

  for (const attack of runAttacks) {
    it(`${attack.name}: the run gets its outcome and the server serves on`, async () => {
      await attack.run({ url: server.url, token: server.token, standIn });
      expect(await server.alive()).toBe(true);
    }, 120_000);
  }

  it('holds its peak memory under RUN_ATTACK_PEAK_RSS_BOUND_BYTES through every attack', async () => {
    const { peakRssBytes } = await server.memory();
    expect(peakRssBytes).toBeLessThan(RUN_ATTACK_PEAK_RSS_BOUND_BYTES);
  });
});
