// The one place that says whether a failed write failed for want of space: the disk or the
// quota (errno) or SQLite's own "database or disk is full". Every room asks here, so a full
// data_dir is told apart from other I/O errors the same way everywhere.

const STORAGE_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/** The error's storage-full code (ENOSPC, EDQUOT, SQLITE_FULL), looking through its causes; null when it is not one. */
export function storageFullCode(err: unknown): string | null {
  let current = err;
  for (let depth = 0; depth < 8 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && STORAGE_FULL_CODES.has(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

export function isStorageFull(err: unknown): boolean {
  return storageFullCode(err) !== null;
}

/** What a client is told: the server's paths stay in its log. */
export const STORAGE_FULL_MESSAGE = "the server's storage is full";
