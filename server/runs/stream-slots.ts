/** A tenant already holds as many event streams as it may. */
export class TooManyStreamsError extends Error {
  constructor(
    readonly tenant: string,
    readonly limit: number,
  ) {
    super(`tenant ${tenant} already has ${limit} event streams open; close one or retry later`);
  }
}

/** Counts what each tenant holds open, up to a per-tenant limit. */
export class StreamSlots {
  private readonly held = new Map<string, number>();

  constructor(private readonly perTenant: number) {}

  /** Takes one of the tenant's slots, or throws TooManyStreamsError; the function returned gives it back, once. */
  acquire(tenant: string): () => void {
    const count = this.held.get(tenant) ?? 0;
    if (count >= this.perTenant) throw new TooManyStreamsError(tenant, this.perTenant);
    this.held.set(tenant, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(tenant) ?? 1) - 1;
      if (left > 0) this.held.set(tenant, left);
      else this.held.delete(tenant);
    };
  }

  count(tenant: string): number {
    return this.held.get(tenant) ?? 0;
  }
}

/** An iterator that gives back its slot when it ends, fails or is closed by `return()`, even unstarted. */
export interface HeldStream<T> extends AsyncIterableIterator<T> {
  return(): Promise<IteratorResult<T>>;
}

/** Ties a slot's release to an iterator; unlike a wrapping generator, `return()` releases before the first `next()`. */
export function holdWhileOpen<T>(inner: AsyncGenerator<T>, release: () => void): HeldStream<T> {
  return {
    async next() {
      try {
        const result = await inner.next();
        if (result.done) release();
        return result;
      } catch (err) {
        release();
        throw err;
      }
    },
    async return() {
      release();
      return inner.return(undefined);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
