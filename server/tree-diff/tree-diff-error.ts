export type TreeDiffErrorCode =
  /** The tar stream is not a tar this module can read. */
  | 'bad_tar'
  /** A git child process failed or printed more than allowed. */
  | 'git_failed'
  /** The baseline's stored tar no longer matches its index. */
  | 'store_corrupt';

/** A diff that could not be computed; `message` is for logs, not for API clients. */
export class TreeDiffError extends Error {
  override readonly name = 'TreeDiffError';

  constructor(
    readonly code: TreeDiffErrorCode,
    message: string,
  ) {
    super(message);
  }
}
