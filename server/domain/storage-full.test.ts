import { describe, expect, it } from 'vitest';
import { isStorageFull, storageFullCode } from './storage-full.js';

const errno = (code: string) => Object.assign(new Error(code), { code });

describe('storageFullCode', () => {
  it('names ENOSPC, EDQUOT and SQLITE_FULL, also as a cause', () => {
    expect(storageFullCode(errno('ENOSPC'))).toBe('ENOSPC');
    expect(storageFullCode(errno('EDQUOT'))).toBe('EDQUOT');
    expect(storageFullCode(errno('SQLITE_FULL'))).toBe('SQLITE_FULL');
    expect(storageFullCode(new Error('export failed', { cause: new Error('write', { cause: errno('ENOSPC') }) }))).toBe('ENOSPC');
  });

  it('says nothing of other failures', () => {
    expect(isStorageFull(errno('EIO'))).toBe(false);
    expect(isStorageFull(errno('SQLITE_BUSY'))).toBe(false);
    expect(isStorageFull(new Error('no code'))).toBe(false);
    expect(isStorageFull(undefined)).toBe(false);
  });
});
