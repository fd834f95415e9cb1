import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { BaselineEntry } from './baseline-index.js';
import type { BaselineScan } from './baseline-scan.js';
import type { GitMode } from './tree-writer.js';

const FORMAT = 'codex-runner baseline scan 1';

type StoredEntry = [key: string, mode: GitMode, id: string, size: number, offset: number | null, link: string | null];

interface StoredScan {
  format: typeof FORMAT;
  /** The size of the tar it indexes: a scan that does not match its tar is not used. */
  tarBytes: number;
  entries: StoredEntry[];
  omitted: BaselineScan['omitted'];
  skipped: BaselineScan['skipped'];
}

/**
 * Keeps the scan the spooler made of `tarPath` beside it, so the run's diff needs no second pass
 * over the upload. Written without fsync: a scan lost or cut short by a crash is not read back
 * (`readScanFile` answers null), and the tar is scanned again.
 */
export async function writeScanFile(path: string, scan: BaselineScan, tarPath: string): Promise<void> {
  const stored: StoredScan = {
    format: FORMAT,
    tarBytes: (await stat(tarPath)).size,
    entries: [...scan.entries].map(([key, e]) => [key, e.mode, e.id, e.size, e.offset, e.link?.toString('base64') ?? null]),
    omitted: scan.omitted,
    skipped: scan.skipped,
  };
  const partial = `${path}.partial`;
  try {
    await writeFile(partial, JSON.stringify(stored), { mode: 0o600 });
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
}

/** The scan kept for `tarPath`, or null when there is none, or none that belongs to that tar. */
export async function readScanFile(path: string, tarPath: string): Promise<BaselineScan | null> {
  let stored: StoredScan;
  try {
    stored = JSON.parse(await readFile(path, 'utf8')) as StoredScan;
  } catch {
    return null;
  }
  if (stored?.format !== FORMAT || !Array.isArray(stored.entries)) return null;
  if (stored.tarBytes !== (await stat(tarPath).catch(() => null))?.size) return null;
  const entries = new Map<string, BaselineEntry>();
  for (const [key, mode, id, size, offset, link] of stored.entries) {
    entries.set(key, { mode, id, size, offset, link: link === null ? null : Buffer.from(link, 'base64') });
  }
  return { entries, omitted: stored.omitted, skipped: stored.skipped };
}
