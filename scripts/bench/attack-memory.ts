// The server's memory under the upload attacks (test/fixtures/upload-attacks.ts): its own process,
// configured as the attacks expect, RSS sampled while each attack runs. The bound the tests hold
// it to is printed beside the figures.
import path from 'node:path';
import { ATTACK_SERVER_CONFIG, uploadAttacks } from '../../test/fixtures/upload-attacks.js';
export { ATTACK_PEAK_RSS_BOUND_BYTES } from '../../test/fixtures/upload-attacks.js';
import { readRss, resetPeakRss, sampleRss } from './proc.js';
import { startServerChild } from './server-child.js';

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
  await server.memoryAfterGc();
  const idleRss = (await readRss(server.pid)).rss;
  await resetPeakRss(server.pid);
  const attacks: AttackMemoryResult['attacks'] = [];
  for (const attack of uploadAttacks) {
    const sampler = sampleRss(server.pid, 10);
    try {
      await attack.run({ url: server.url, token });
    } finally {
      const { peak } = await sampler.stop();
      // An attack answered within one sampling interval leaves no sample: take the RSS after it.
      attacks.push({ name: attack.name, peakRss: Math.max(peak, (await readRss(server.pid)).rss) });
    }
  }
  const { hwm } = await readRss(server.pid);
  await server.memoryAfterGc();
  const afterRss = (await readRss(server.pid)).rss;
  return { idleRss, attacks, peakRss: Math.max(hwm, ...attacks.map((a) => a.peakRss)), afterRss };
}
