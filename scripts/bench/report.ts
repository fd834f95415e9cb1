// The bench's printed report: a table per measurement, then the ratios.
import type { LatencyResult } from './latency.js';
import type { Holdings } from './leaks.js';
import type { AttackMemoryResult } from './attack-memory.js';
import type { AdmissionRateResult } from './admission-rate.js';
import type { StoreResult } from './store.js';
import type { UploadMemoryResult } from './upload-memory.js';
import { mib, ms, ratio, summarize, table } from './stats.js';

const PHASES = ['start', 'upload', 'prepare', 'codex', 'collect', 'remove'];
const MiB = 1024 * 1024;

export function printLatency(r: LatencyResult): void {
  const a = summarize(r.floorMs);
  const b = summarize(r.serviceMs);
  console.log('1. latency: the same two-command Codex script');
  console.log(
    table([
      ['', 'min', 'median', 'max'],
      ['A floor (docker run by hand)', ms(a.min), ms(a.median), ms(a.max)],
      ['B service (POST /v1/runs?wait=1)', ms(b.min), ms(b.median), ms(b.max)],
    ]),
  );
  console.log(`   B/A ratio of medians: ${ratio(b.median / a.median)}   overhead: +${ms(b.median - a.median)}`);

  // The server's own timings: which phase the service's time goes to.
  const seen = PHASES.filter((p) => r.servicePhases.some((t) => t[p] !== undefined));
  const outside = r.serviceMs.map((total, i) => total - seen.reduce((sum, p) => sum + (r.servicePhases[i]?.[p] ?? 0), 0));
  const cells = seen.map((p) => `${p} ${ms(summarize(r.servicePhases.map((t) => t[p] ?? 0)).median)}`);
  console.log(`   B phases (median, from the 'run ended' log): ${cells.join(', ')}, outside phases (HTTP, queue, bookkeeping) ${ms(summarize(outside).median)}\n`);
}

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
