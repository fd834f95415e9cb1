import Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import { formatSoakReport, soak, soakProblems } from '../scripts/soak/soak.js';
import { startSoakServer } from '../scripts/soak/soak-server.js';
import { soakCases } from './fixtures/soak-mix.js';

// `npm run soak` makes 200; CI makes enough for every case to come round at least twice.
const CI_SOAK_RUNS = 30;

describe('the soak, as CI runs it', () => {
  it(`ends each of ${CI_SOAK_RUNS} mixed good and hostile runs, 8 at a time, and gives back what the server held`, { timeout: 600_000 }, async () => {
    expect(CI_SOAK_RUNS).toBeGreaterThanOrEqual(2 * soakCases.length);
    await using soakServer = await startSoakServer();
    const report = await soak({ ...soakServer, docker: new Dockerode(), runs: CI_SOAK_RUNS, concurrency: 8 });
    console.log(formatSoakReport(report));
    expect(soakProblems(report)).toEqual([]);
    expect(report.outcomes.map((o) => o.ended).every((e) => e !== null)).toBe(true);
    expect(new Set(report.outcomes.map((o) => o.name)).size).toBe(soakCases.length);
  });
});
