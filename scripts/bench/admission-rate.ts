// Submissions the service takes per second when they only queue: ten tenants post JSON runs at once
// to a real server child while its one slot is held by a run that sleeps. Each accepted run is
// planned, admitted by the fair queue, written to the SQLite store (fsynced) and given its
// directory and event log: what a burst of CI jobs costs before any sandbox starts.
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { scriptMarker, startResponsesStandIn, STAND_IN_MODEL } from '../../test/fixtures/responses-stand-in.js';
import { startServerChild } from './server-child.js';

export interface AdmissionRateResult {
  tenants: number;
  submissions: number;
  concurrency: number;
  seconds: number;
  perSecond: number;
  refused: number;
}

const TENANTS = 10;
const SUBMISSIONS = 2000;
const CONCURRENCY = 20;

export async function measureAdmissionRate(dir: string, instance: string): Promise<AdmissionRateResult> {
  await using standIn = await startResponsesStandIn();
  const tokens = Array.from({ length: TENANTS }, () => `bench-${randomBytes(8).toString('hex')}`);
  const rawConfig = {
    server: { listen: '127.0.0.1:0', data_dir: path.join(dir, 'admission-data'), instance, log_level: 'warn', shutdown_grace_s: 0 },
    providers: { standin: { base_url: standIn.url, key_env: 'STANDIN_KEY' } },
    defaults: { provider: 'standin', model: STAND_IN_MODEL },
    limits: { max_concurrent_runs: 1, max_queued_runs: SUBMISSIONS + 10 },
    tenants: tokens.map((token, i) => ({ name: `t${i}`, token_sha256: createHash('sha256').update(token).digest('hex'), max_queued_runs: SUBMISSIONS })),
  };
  await using server = await startServerChild(rawConfig, { STANDIN_KEY: 'sk-bench-stand-in' });
  const post = (token: string, prompt: string) =>
    fetch(`${server.url}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });

  standIn.script('bench-hold', [{ exec: 'sleep 600' }]);
  const holder = await post(tokens[0]!, `${scriptMarker('bench-hold')} hold the slot`);
  if (holder.status !== 202) throw new Error(`the slot holder was refused: ${holder.status} ${await holder.text()}`);

  let next = 0;
  let refused = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < SUBMISSIONS; i = next++) {
        const res = await post(tokens[i % TENANTS]!, `queued run ${i}`);
        await res.arrayBuffer();
        if (res.status !== 202) refused++;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return { tenants: TENANTS, submissions: SUBMISSIONS, concurrency: CONCURRENCY, seconds, perSecond: SUBMISSIONS / seconds, refused };
}
