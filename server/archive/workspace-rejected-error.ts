export type WorkspaceRejectionKind = 'invalid' | 'too_large';

/** An upload refused for what it contains; `message` is written for API clients. */
export class WorkspaceRejectedError extends Error {
  override readonly name = 'WorkspaceRejectedError';

  constructor(
    readonly kind: WorkspaceRejectionKind,
    message: string,
    readonly entry?: string,
  ) {
    super(message);
  }
}

const QUOTED_NAME_MAX_CHARS = 200;

/**
 * Quotes an entry name for a client-facing message; JSON escaping keeps control bytes visible. A
 * name longer than a message should be (tar allows megabytes) is cut, and says so.
 */
export function quoteEntry(name: string): string {
  if (name.length <= QUOTED_NAME_MAX_CHARS) return JSON.stringify(name);
  return `${JSON.stringify(name.slice(0, QUOTED_NAME_MAX_CHARS))}… (${Buffer.byteLength(name)} bytes)`;
}
