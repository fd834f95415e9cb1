// The bench's printed report: a table per measurement, then the ratios.
import type { LatencyResult } from './latency.js';
import type { Holdings } from './leaks.js';
import type { AttackMemoryResult } from './attack-memory.js';
import type { AdmissionRateResult } from './admission-rate.js';
import type { StoreResult } from './store.js';
import type { UploadMemoryResult } from './upload-memory.js';
import { mib, ms, ratio, summarize, table } from './stats.js';
import { percentile, type ConcurrencyLevel } from './concurrency.js';
import type { CpuPerRun } from './cpu-accounting.js';
import { availableParallelism } from 'node:os';
import type { BigWorkspaceResult } from './big-workspace.js';

const PHASES = ['preload', 'claim', 'access', 'start', 'upload', 'prepare', 'codex', 'baseline', 'collect'];
const MiB = 1024 * 1024;

export function printLatency(r: LatencyResult): void {
  const a = summarize(r.floorMs);
  console.log('1. latency: the same two-command Codex script');
  const rows = [['', 'min', 'p50', 'p95', 'max']];
  rows.push(['A floor (docker run by hand)', ms(a.min), ms(a.median), ms(percentile(r.floorMs, 95)), ms(a.max)]);
  for (const side of r.sides) {
    const s = summarize(side.ms);
    rows.push([side.label, ms(s.min), ms(s.median), ms(percentile(side.ms, 95)), ms(s.max)]);
  }
  console.log(table(rows));
  for (const side of r.sides) {
    const s = summarize(side.ms);
    console.log(`   ${side.label.split(' ')[0]}/A ratio of p50s: ${ratio(s.median / a.median)} (${signedMs(s.median - a.median)}); p95/A p50: ${ratio(percentile(side.ms, 95) / a.median)}`);
    // The server's own timings: which phase the service's time goes to.
    const seen = PHASES.filter((p) => side.phases.some((t) => t[p] !== undefined));
    const outside = side.ms.map((total, i) => total - seen.reduce((sum, p) => sum + (side.phases[i]?.[p] ?? 0), 0));
    const cells = seen.map((p) => `${p} ${ms(summarize(side.phases.map((t) => t[p] ?? 0)).median)}`);
    const toCodex = side.phases.map((t) => t.to_codex).filter((v): v is number => v !== undefined);
    console.log(`     phases (p50, from the 'run ended' log): ${cells.join(', ')}, outside phases (HTTP, queue, bookkeeping) ${ms(summarize(outside).median)}`);
    if (toCodex.length) console.log(`     accepted to Codex started: p50 ${ms(summarize(toCodex).median)}, p95 ${ms(percentile(toCodex, 95))}`);
  }
  console.log('');
}

const signedMs = (v: number) => `${v >= 0 ? '+' : ''}${ms(v)}`;

export function printLeaks(before: Holdings, after: Holdings, runs: number): void {
  console.log(`3. leak check: the server process after the warm-up vs after ${runs} more runs`);
  console.log(
    table([
      ['', 'after warm-up', `after ${runs} runs`, 'change'],
      ['RSS', mib(before.rss), mib(after.rss), signed(mib(after.rss - before.rss))],
      ['heap used (after GC)', mib(before.heapUsed), mib(after.heapUsed), signed(mib(after.heapUsed - before.heapUsed))],
      ['open fds', String(before.fds), String(after.fds), signed(String(after.fds - before.fds))],
    ]),
  );
  console.log(`   sandboxes left (this instance's codex-runner.run-id label, the floor's label): none\n`);
}

/** Two uploads, small then large: the growth's slope between them is what the size itself costs. */
export function printUpload(small: UploadMemoryResult, large: UploadMemoryResult): void {
  // Both against the idle RSS before the first upload: RSS does not fall back after a run, even
  // after a GC (V8 keeps its grown young generation, the allocator keeps freed pages), so the
  // second run's own idle figure would hide what the first one grew.
  const baseline = small.idleRss;
  const growth = (r: UploadMemoryResult) => r.peakRss - baseline;
  const rate = (bytes: number, msTaken: number | undefined) => (msTaken ? `${(bytes / MiB / (msTaken / 1000)).toFixed(0)} MiB/s` : '?');
  const column = (r: UploadMemoryResult) => [
    mib(r.uploadBytes),
    r.duInSandbox,
    mib(r.idleRss),
    `${mib(r.sampledPeak)} @${ms(r.sampledPeakAtMs)} ~${phaseAt(r, r.sampledPeakAtMs)}`,
    r.hwm === null ? 'unavailable' : mib(r.hwm),
    mib(growth(r)),
    ratio(growth(r) / r.uploadBytes),
    `${rate(r.uploadBytes, r.bodySentMs)} (${ms(r.bodySentMs)})`,
    `${rate(r.uploadBytes, r.phases.upload)} (${ms(r.phases.upload ?? NaN)})`,
    PHASES.map((p) => r.phases[p] ?? '?').join('/'),
    ms(r.totalMs),
  ];
  const labels = [
    'upload (random bytes, 4 files)',
    'du -sh /workspace in the sandbox',
    'server RSS idle before it (after GC)',
    'server RSS peak, sampled every 20 ms',
    'server RSS peak, kernel VmHWM',
    'peak growth over the first idle RSS',
    'growth / upload size',
    'HTTP ingest, body fully sent',
    'into the sandbox (upload phase)',
    `phases ms (${PHASES.join('/')})`,
    'whole run',
  ];
  const a = column(small);
  const b = column(large);
  console.log('2. server memory while a workspace streams through POST /v1/runs?wait=1 (multipart)');
  console.log(table([['', 'small', 'large'], ...labels.map((label, i) => [label, a[i]!, b[i]!])]));
  const slope = (growth(large) - growth(small)) / (large.uploadBytes - small.uploadBytes);
  console.log(`   large upload: peak RSS growth / upload size ${ratio(growth(large) / large.uploadBytes)} (target < 0.25)`);
  console.log(`   extra growth per extra upload byte, large vs small: ${slope.toFixed(3)} (0 = a fixed cost, 1 = held whole)\n`);
}

/** The phase running at `atMs` from the request's start: HTTP ingest, then the run's phases in order. */
function phaseAt(r: UploadMemoryResult, atMs: number): string {
  if (atMs <= r.bodySentMs) return 'HTTP ingest';
  let end = r.bodySentMs;
  for (const p of PHASES) {
    end += r.phases[p] ?? 0;
    if (atMs <= end) return p;
  }
  return 'after the run';
}

const signed = (text: string) => (text.startsWith('-') ? text : `+${text}`);

/** The server's memory while the upload attacks run: each one's peak, and the bound the tests hold. */
export function printAttacks(title: string, r: AttackMemoryResult, boundBytes: number): void {
  console.log(`${title}: the server process (its own, configured as the attacks expect) while each runs`);
  console.log(table([['attack', 'peak RSS'], ...r.attacks.map((a) => [a.name, mib(a.peakRss)])]));
  console.log(
    `   idle ${mib(r.idleRss)}, peak ${mib(r.peakRss)} (bound held by the tests: ${mib(boundBytes)}), after GC ${mib(r.afterRss)}; ` +
      `the server answered every attack and is still serving\n`,
  );
}

/** The run store (SQLite, synchronous = FULL) on its own, on this machine's disk. */
export function printStore(title: string, r: StoreResult): void {
  const fine = (v: number) => `${v.toFixed(2)} ms`;
  console.log(`${title}: SQLite on this disk, every commit fsynced; ${r.storedRuns} runs stored, ${r.storedRuns - 10_000} of them other tenants'`);
  console.log(
    table([
      ['', 'min', 'median', 'max'],
      ...(
        [
          [`per run: insert + 2 updates (${r.perRunSamples} runs)`, r.perRunMs],
          [`a page of ${r.pageSize}, newest first`, r.firstPageMs],
          [`a page of ${r.pageSize} from a cursor halfway down`, r.deepPageMs],
          [`a page of ${r.pageSize} with a status filter`, r.statusPageMs],
        ] as const
      ).map(([what, s]) => [what, fine(s.min), fine(s.median), fine(s.max)]),
    ]),
  );
  console.log('');
}

export function printAdmissionRate(title: string, r: AdmissionRateResult): void {
  console.log(`${title}: ${r.submissions} POST /v1/runs from ${r.tenants} tenants, ${r.concurrency} at a time, while the one slot is held`);
  console.log(`   ${r.perSecond.toFixed(0)} submissions per second (${r.seconds.toFixed(2)} s in all), ${r.refused} refused (target: 200 per second, none refused)\n`);
}

export function printConcurrency(levels: ConcurrencyLevel[], cpu?: { floor: CpuPerRun; service: CpuPerRun }): void {
  console.log('9. concurrency: the two-command script, N clients each posting a run and waiting for it');
  const rows = [['in flight', 'runs', 'errors', 'runs/s', 'p50', 'p95', 'from the pool']];
  for (const l of levels) {
    rows.push([String(l.level), String(l.runs), String(l.errors.length), (l.runs / (l.wallMs / 1000)).toFixed(2), ms(percentile(l.latencyMs, 50)), ms(percentile(l.latencyMs, 95)), `${l.pooled}/${l.runs}`]);
  }
  console.log(table(rows));
  const one = levels.find((l) => l.level === 1);
  for (const l of levels.filter((x) => x.level !== 1 && one)) {
    console.log(`   throughput at ${l.level} / at 1: ${ratio(l.runs / l.wallMs / (one!.runs / one!.wallMs))}`);
  }
  for (const l of levels) for (const e of l.errors.slice(0, 3)) console.log(`   error at ${l.level}: ${e}`);
  if (cpu && one) {
    const groups = (c: CpuPerRun) => Object.entries(c.groups).map(([g, v]) => `${g} ${ms(v)}`).join(', ');
    console.log(`   CPU per run, the machine busy (${cpu.service.runs} runs one at a time, removals and the pool's refill included):`);
    console.log(`     A floor   ${ms(cpu.floor.machineMs)} (${groups(cpu.floor)}): the cores sustain ${cpu.floor.boundRunsPerS.toFixed(2)} runs/s`);
    console.log(`     B service ${ms(cpu.service.machineMs)} (${groups(cpu.service)}): the cores sustain ${cpu.service.boundRunsPerS.toFixed(2)} runs/s`);
    const oneRate = one.runs / (one.wallMs / 1000);
    console.log(`     1.6x the rate at 1 (${oneRate.toFixed(2)} runs/s) needs at most ${ms((availableParallelism() * 1000) / (1.6 * oneRate))} of CPU per run; the service's is ${ratio(cpu.service.machineMs / cpu.floor.machineMs)} the floor's`);
  }
  console.log('');
}

export function printBigWorkspace(results: BigWorkspaceResult[]): void {
  const rounds = results[0]?.rounds ?? 0;
  console.log(`10. big workspaces: the run minus the same run on a one-file workspace, against the archive API by hand (medians of ${rounds} interleaved rounds)`);
  const rows = [['', 'tar', 'files', 'floor in+out', 'run', 'one-file run', 'overhead', 'overhead/floor', 'each round', 'RSS growth (max)']];
  for (const r of results) {
    rows.push([
      r.name,
      mib(r.tarBytes),
      String(r.files),
      `${ms(r.floorMs)} (${ms(r.floorInMs)} + ${ms(r.floorOutMs)})`,
      ms(r.runMs),
      ms(r.oneFileRunMs),
      ms(r.overheadMs),
      ratio(r.overheadMs / r.floorMs),
      r.ratios.map(ratio).join(' '),
      `${mib(r.rssGrowth)} (${mib(r.rssGrowthMax)})`,
    ]);
  }
  console.log(table(rows));
  for (const r of results) {
    const cells = Object.entries(r.phases).filter(([p]) => p !== 'to_codex').map(([p, v]) => `${p} ${ms(v)}`);
    console.log(`   ${r.name} phases (the median round): ${cells.join(', ')}`);
    const g = r.largestGrowthParts;
    console.log(
      `   ${r.name} the largest round's RSS growth, read inside the server at its peak: ${signed(mib(g.rss))} = ` +
        `V8's new space ${signed(mib(g.newSpace))}, old space ${signed(mib(g.oldSpace))}, other spaces ${signed(mib(g.otherSpaces))}, ` +
        `ArrayBuffers ${signed(mib(g.arrayBuffers))}, the rest (native memory kept, code) ${signed(mib(g.rest))}`,
    );
  }
  console.log('');
}

export function printImage(image: string, bytes: number): void {
  console.log(`8. the sandbox image: ${image} ${(bytes / 1e6).toFixed(0)} MB (${mib(bytes)}; target at most 420 MB)\n`);
}
