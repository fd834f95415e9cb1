/** Why a run is refused before it is created; the API maps each reason to its status in one place. */
export type RefusalReason = 'shutting_down' | 'queue_full' | 'engine_unavailable' | 'storage_full' | 'invalid_options' | 'provider_not_ready' | 'environment_not_ready';

export class RunRefusedError extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
    /** When asking again may succeed (queue_full): the client's Retry-After. */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}
