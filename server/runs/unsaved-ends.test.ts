import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { StorageHealth } from './storage-health.js';
import { UnsavedEnds } from './unsaved-ends.js';
import type { RunStatusEvent } from './run-wire.js';
import type { Run } from './run.js';

const log = createLogger('silent');
const full = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });

function ends(failures: { update: number; append: number }) {
  const updated: Run[] = [];
  const appended: string[] = [];
  const unsaved = new UnsavedEnds({
    store: {
      update: async (run) => {
        if (failures.update-- > 0) throw full();
        updated.push(run);
      },
    },
    appendEvent: async (file, event) => {
      if (failures.append-- > 0) throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
      appended.push(`${file}:${event.type}`);
    },
    log,
  });
  return { unsaved, updated, appended };
}

const run = (id: string) => ({ id, status: 'failed', tenant: 't' }) as Run;
const terminal = (r: Run) => ({ file: `/d/${r.id}/events.jsonl`, event: { type: 'run.failed', run: {} } as unknown as RunStatusEvent });

describe('UnsavedEnds', () => {
  it('serves a held end until it is written, then lets the store answer', async () => {
    const { unsaved, updated, appended } = ends({ update: 1, append: 0 });
    const r = run('run_a');
    unsaved.hold(r, { record: true, terminal: terminal(r) });
    r.status = 'running'; // the caller's object is not the one held
    expect(unsaved.get('run_a')?.status).toBe('failed');

    await unsaved.flush(); // still full: the event went in, the record did not
    expect(appended).toEqual(['/d/run_a/events.jsonl:run.failed']);
    expect(unsaved.get('run_a')?.status).toBe('failed');

    await unsaved.flush();
    expect(updated.map((u) => [u.id, u.status])).toEqual([['run_a', 'failed']]);
    expect(appended).toHaveLength(1); // not appended twice
    expect(unsaved.get('run_a')).toBeUndefined();
    expect(unsaved.size).toBe(0);
  });

  it('stops at the first end that does not fit and keeps the rest for the next flush', async () => {
    const { unsaved, updated } = ends({ update: 1, append: 0 });
    unsaved.hold(run('run_a'), { record: true, terminal: null });
    unsaved.hold(run('run_b'), { record: true, terminal: null });
    await unsaved.flush();
    expect(updated).toEqual([]);
    expect(unsaved.ids()).toEqual(['run_a', 'run_b']);
    await unsaved.flush();
    expect(updated.map((u) => u.id)).toEqual(['run_a', 'run_b']);
  });
});

describe('StorageHealth', () => {
  it('is full at once when a write fails for want of space, and has room again once statfs says so', async () => {
    let free = 100 * 1024 * 1024;
    const storage = new StorageHealth('/data', log, async () => free);
    await storage.check();
    expect(storage.problem).toBeNull();
    expect(storage.noteFailure(Object.assign(new Error('io'), { code: 'EIO' }))).toBe(false);
    expect(storage.problem).toBeNull();
    expect(storage.noteFailure(full())).toBe(true);
    expect(storage.problem).toBe("the server's storage is full");
    free = 0;
    await storage.check();
    expect(storage.problem).toBe("the server's storage is full");
    free = 50 * 1024 * 1024;
    await storage.check();
    expect(storage.problem).toBeNull();
  });
});
