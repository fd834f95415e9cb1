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

/** Quotes an entry name for a client-facing message; JSON escaping keeps control bytes visible. */
export function quoteEntry(name: string): string {
  return JSON.stringify(name);
}
