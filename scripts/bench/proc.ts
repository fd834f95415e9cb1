// Readers for another process's /proc entries: the bench measures the server from outside, so the
// bench's own buffers (the upload it streams, the floor's forwarder) never count as the server's.
import { readdir, readFile, writeFile } from 'node:fs/promises';

const KiB = 1024;

/** VmRSS (current) and VmHWM (peak since start or since the last resetPeakRss) in bytes. */
export async function readRss(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * KiB;
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** Resets VmHWM to the current RSS (Linux >= 4.0, "5" in clear_refs); false when not allowed. */
export async function resetPeakRss(pid: number): Promise<boolean> {
  return writeFile(`/proc/${pid}/clear_refs`, '5').then(
    () => true,
    () => false,
  );
}

export async function countFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

export interface RssSamples {
  peak: number;
  /** performance.now() of the peak sample. */
  peakAt: number;
  samples: number;
}

/** Samples VmRSS every intervalMs until stopped (stop is idempotent); the peak is the highest sample. */
export function sampleRss(pid: number, intervalMs = 20): { stop(): Promise<RssSamples> } {
  const result: RssSamples = { peak: 0, peakAt: NaN, samples: 0 };
  let pending: Promise<void> = Promise.resolve();
  let stopped: Promise<RssSamples> | undefined;
  const timer = setInterval(() => {
    pending = readRss(pid).then(
      ({ rss }) => {
        if (rss > result.peak) Object.assign(result, { peak: rss, peakAt: performance.now() });
        result.samples++;
      },
      () => {},
    );
  }, intervalMs);
  const stop = () =>
    (stopped ??= (async () => {
      clearInterval(timer);
      await pending;
      return result;
    })());
  return { stop };
}
