// The CLI's exit statuses, one table, so scripts and CI jobs can tell outcomes apart.
export const EXIT = {
  succeeded: 0,
  failed: 1,
  usage: 2,
  timedOut: 3,
  cancelled: 4,
  unreachable: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports in one line and ends with its exit status. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}

/** The exit status for a run that ended with this status (a live one has none yet). */
export function exitCodeForStatus(status: string): ExitCode {
  switch (status) {
    case 'succeeded':
      return EXIT.succeeded;
    case 'timed_out':
      return EXIT.timedOut;
    case 'cancelled':
      return EXIT.cancelled;
    default:
      return EXIT.failed;
  }
}

/** An API answer that was not a success, as the CLI ends on it. */
export function exitCodeForApiError(status: number, code: string | undefined): ExitCode {
  if (status === 401 || status === 403) return EXIT.unreachable;
  // The request the user typed was refused as it stands: fix the flags, not the server.
  if (code === 'invalid_options' || code === 'bad_request' || code === 'workspace_invalid') return EXIT.usage;
  return EXIT.failed;
}
