// The server's memory under the upload attacks (test/fixtures/upload-attacks.ts) and the attacks a
// run makes from its sandbox (test/fixtures/run-attacks.ts): its own process, configured as the
// attacks expect, RSS sampled while each attack runs. The bound the tests hold
// it to is printed beside the figures.
import path from 'node:path';
import { startResponsesStandIn, STAND_IN_MODEL } from '../../test/fixtures/responses-stand-in.js';
import { RUN_ATTACK_SERVER_CONFIG, runAttacks } from '../../test/fixtures/run-attacks.js';
import { ATTACK_SERVER_CONFIG, uploadAttacks } from '../../test/fixtures/upload-attacks.js';
export { RUN_ATTACK_PEAK_RSS_BOUND_BYTES } from '../../test/fixtures/run-attacks.js';
export { ATTACK_PEAK_RSS_BOUND_BYTES } from '../../test/fixtures/upload-attacks.js';
import { readRss, resetPeakRss, sampleRss } from './proc.js';
import { startServerChild, type ServerChild } from './server-child.js';

export interface AttackMemoryResult {
  idleRss: number;
  attacks: { name: string; peakRss: number }[];
  peakRss: number;
  afterRss: number;
}

export async function measureAttackMemory(dir: string, instance: string, token: string): Promise<AttackMemoryResult> {
  const rawConfig = {
    ...ATTACK_SERVER_CONFIG,
    server: { listen: '127.0.0.1:0', data_dir: path.join(dir, 'attack-data'), instance, log_level: 'warn', shutdown_grace_s: 0 },
  };
  await using server = await startServerChild(rawConfig, { CODEX_RUNNER_TOKEN: token });
  return await measureEach(server, uploadAttacks.map((attack) => ({ name: attack.name, run: () => attack.run({ url: server.url, token }) })));
}

/** RSS sampled while each attack runs, one after the other; the peak is VmHWM's, reset at the start. */
async function measureEach(server: ServerChild, attacks: { name: string; run: () => Promise<void> }[]): Promise<AttackMemoryResult> {
  await server.memoryAfterGc();
  const idleRss = (await readRss(server.pid)).rss;
  await resetPeakRss(server.pid);
  const measured: AttackMemoryResult['attacks'] = [];
  for (const attack of attacks) {
    const sampler = sampleRss(server.pid, 10);
    try {
      await attack.run();
    } finally {
      const { peak } = await sampler.stop();
      // An attack answered within one sampling interval leaves no sample: take the RSS after it.
      measured.push({ name: attack.name, peakRss: Math.max(peak, (await readRss(server.pid)).rss) });
    }
  }
  const { hwm } = await readRss(server.pid);
  await server.memoryAfterGc();
  const afterRss = (await readRss(server.pid)).rss;
  return { idleRss, attacks: measured, peakRss: Math.max(hwm, ...measured.map((a) => a.peakRss)), afterRss };
}

/**
 * The server's memory under the attacks a run makes from inside its sandbox
 * (test/fixtures/run-attacks.ts), the stand-in playing the model.
 */
export async function measureRunAttackMemory(dir: string, instance: string, token: string): Promise<AttackMemoryResult> {
  await using standIn = await startResponsesStandIn();
  const rawConfig = {
    ...RUN_ATTACK_SERVER_CONFIG,
    server: { listen: '127.0.0.1:0', data_dir: path.join(dir, 'run-attack-data'), instance, log_level: 'warn', shutdown_grace_s: 0 },
    providers: { standin: { base_url: standIn.url, key_env: 'STANDIN_KEY' } },
    defaults: { provider: 'standin', model: STAND_IN_MODEL },
  };
  await using server = await startServerChild(rawConfig, { CODEX_RUNNER_TOKEN: token, STANDIN_KEY: 'sk-bench-stand-in' });
  return await measureEach(server, runAttacks.map((attack) => ({ name: attack.name, run: () => attack.run({ url: server.url, token, standIn }) })));
}
