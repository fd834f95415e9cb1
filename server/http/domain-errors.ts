import { WorkspaceRejectedError } from '../archive/spool-workspace.js';
import { isStorageFull, STORAGE_FULL_MESSAGE } from '../domain/storage-full.js';
import type { RefusalReason } from '../runs/run-refused.js';
import { RunRefusedError } from '../runs/run-refused.js';
import { RootDiffError } from '../runs/root-diff.js';
import { TooManyStreamsError } from '../runs/stream-slots.js';
import { ApiError, type ErrorCode } from './api-error.js';

const refusalCode: Record<RefusalReason, ErrorCode> = {
  shutting_down: 'shutting_down',
  queue_full: 'queue_full',
  engine_unavailable: 'not_ready',
  storage_full: 'storage_full',
  invalid_options: 'invalid_options',
  provider_not_ready: 'not_ready',
  environment_not_ready: 'not_ready',
};

/** The API's answer for an error a lower room raised, or undefined when it is not one of theirs: the one mapping. */
export function apiErrorFor(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof RunRefusedError) return new ApiError(refusalCode[err.reason], err.message, err.retryAfterS);
  // Like a run whose own diff was too large to keep: there is none to serve.
  if (err instanceof RootDiffError) return new ApiError(err.code === 'artifact_expired' ? 'artifact_expired' : 'not_found', err.message);
  if (err instanceof TooManyStreamsError) return new ApiError('too_many_streams', err.message);
  if (err instanceof WorkspaceRejectedError) return new ApiError(err.kind === 'too_large' ? 'workspace_too_large' : 'workspace_invalid', err.message);
  // A write of the request's own (its upload's spool) that found no room.
  if (isStorageFull(err)) return new ApiError('storage_full', `${STORAGE_FULL_MESSAGE}: the upload could not be stored; retry later`);
  return undefined;
}
