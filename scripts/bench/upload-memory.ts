// Memory while a large workspace streams through the service: the server's peak RSS growth over its
// idle RSS, as a share of the upload. Streaming end to end keeps that share far below 1.
import path from 'node:path';
import { rm } from 'node:fs/promises';
import type { ResponsesStandIn } from '../../test/fixtures/responses-stand-in.js';
import { scriptMarker } from '../../test/fixtures/responses-stand-in.js';
import { readRss, resetPeakRss, sampleRss } from './proc.js';
import type { ServerChild } from './server-child.js';
import { createRunUpload } from './service-client.js';
import { writeRandomTarball } from './tarball.js';

export interface UploadMemoryResult {
  uploadBytes: number;
  generateMs: number;
  idleRss: number;
  /** The higher of the two peaks below. */
  peakRss: number;
  /** Highest VmRSS sampled every 20 ms, and when, in ms from the request's start. */
  sampledPeak: number;
  sampledPeakAtMs: number;
  samples: number;
  /** The kernel's VmHWM, reset just before the upload; null where the reset is not allowed. It
   * can miss a peak: the kernel updates it lazily, not on every page fault. */
  hwm: number | null;
  totalMs: number;
  bodySentMs: number;
  phases: Record<string, number>;
  /** `du -sh /workspace` as Codex saw it inside the sandbox. */
  duInSandbox: string;
}

const FILES = 4;

export async function measureUploadMemory(server: ServerChild, standIn: ResponsesStandIn, token: string, dir: string, uploadMb: number): Promise<UploadMemoryResult> {
  const tarball = path.join(dir, 'bench-workspace.tar');
  try {
    const t0 = performance.now();
    const uploadBytes = await writeRandomTarball(tarball, FILES, Math.max(1, Math.round(uploadMb / FILES)));
    const generateMs = performance.now() - t0;

    const script = `bench-upload-${uploadMb}`;
    standIn.script(script, [{ exec: 'du -sh /workspace' }, { message: 'measured' }]);
    const prompt = `${scriptMarker(script)} measure the workspace`;

    await server.memoryAfterGc(); // start from a collected heap, as the leak check does
    const idleRss = (await readRss(server.pid)).rss;
    const hwmReset = await resetPeakRss(server.pid);
    const sampler = sampleRss(server.pid);
    const t1 = performance.now();
    const { run, bodySentMs } = await createRunUpload(server.url, token, prompt, tarball).finally(sampler.stop);
    const totalMs = performance.now() - t1;
    const sampled = await sampler.stop();
    if (run.status !== 'succeeded') throw new Error(`upload run ${run.id} ended ${run.status}: ${JSON.stringify(run.error)}; server said: ${server.problems().join(' | ')}`);
    const hwm = hwmReset ? (await readRss(server.pid)).hwm : null;

    return {
      uploadBytes,
      generateMs,
      idleRss,
      peakRss: Math.max(hwm ?? 0, sampled.peak),
      sampledPeak: sampled.peak,
      sampledPeakAtMs: sampled.peakAt - t1,
      samples: sampled.samples,
      hwm,
      totalMs,
      bodySentMs,
      phases: (await server.untilRunEnded(run.id))?.timingsMs ?? {},
      duInSandbox: duOutput(standIn, script),
    };
  } finally {
    await rm(tarball, { force: true });
  }
}

/** Finds the du line in the tool output Codex sent back to the stand-in. */
function duOutput(standIn: ResponsesStandIn, script: string): string {
  for (const request of standIn.requests) {
    if (request.script !== script) continue;
    // The output sits in a JSON string, so du's tab is the two characters "\t" here.
    const match = /(\d+(?:\.\d+)?[KMG]?)(?:\s|\\t)+\/workspace/.exec(JSON.stringify(request.body ?? ''));
    if (match) return match[1]!;
  }
  return '?';
}
