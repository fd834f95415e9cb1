import type { TarEntry, TarReader } from './tar-reader.js';

/** What a consumer does with one entry's body: every chunk in order, then `end()`; `abort()` if it will not get the rest. */
export interface TarBody {
  write(chunk: Buffer): Promise<void> | void;
  end(): Promise<void> | void;
  abort?(): Promise<void> | void;
}

/**
 * One reader of a tar among several fed by one parse (`feedTar`). For each entry it answers the
 * body it wants, null when it wants none, or 'stop' when it wants no further entries.
 */
export interface TarConsumer {
  entry(entry: TarEntry): Promise<TarBody | null | 'stop'>;
}

export type Fed = { ok: true } | { ok: false; error: unknown };

/**
 * Parses the tar once and hands every entry, and each body chunk, to every consumer still reading:
 * each byte is parsed once however many read it. A consumer that throws is dropped (its result
 * says why) and the others read on; one marked `essential` that throws stops the reading for all.
 * Reading ends at the end of the archive, or once no consumer reads on; an error of the reader
 * itself (a broken stream, a bad tar) is every consumer's.
 */
export async function feedTar(reader: TarReader, consumers: { consumer: TarConsumer; essential?: boolean }[]): Promise<Fed[]> {
  const results: (Fed | null)[] = consumers.map(() => null);
  const reading = (i: number) => results[i] === null;
  const live = () => {
    const indexes: number[] = [];
    for (let i = 0; i < consumers.length; i++) if (reading(i)) indexes.push(i);
    return indexes;
  };
  const fail = (i: number, error: unknown) => {
    if (!reading(i)) return;
    results[i] = { ok: false, error };
    if (consumers[i]!.essential) for (const j of live()) results[j] = { ok: false, error };
  };
  try {
    // Checked before next(), which would read past the body of the entry a consumer stopped at.
    while (results.includes(null)) {
      const entry = await reader.next();
      if (entry === null) break;
      const bodies: [number, TarBody][] = [];
      for (const i of live()) {
        try {
          const body = await consumers[i]!.consumer.entry(entry);
          if (body === 'stop') results[i] = { ok: true };
          else if (body !== null) bodies.push([i, body]);
        } catch (error) {
          fail(i, error);
        }
      }
      if (bodies.length > 0) await feedBody(reader, bodies, reading, fail);
    }
  } catch (error) {
    for (const i of live()) results[i] = { ok: false, error };
  }
  return results.map((r) => r ?? { ok: true });
}

async function feedBody(reader: TarReader, bodies: [number, TarBody][], reading: (i: number) => boolean, fail: (i: number, error: unknown) => void): Promise<void> {
  const ended = new Set<number>();
  try {
    for await (const chunk of reader.body()) {
      for (const [i, body] of bodies) {
        if (!reading(i)) continue;
        try {
          await body.write(chunk);
        } catch (error) {
          fail(i, error);
        }
      }
      if (bodies.every(([i]) => !reading(i))) return;
    }
    for (const [i, body] of bodies) {
      if (!reading(i)) continue;
      try {
        await body.end();
        ended.add(i);
      } catch (error) {
        fail(i, error);
      }
    }
  } finally {
    for (const [i, body] of bodies) if (!ended.has(i)) await Promise.resolve(body.abort?.()).catch(() => {});
  }
}

/**
 * `consumer`, given only the entries at `dir` and under it (`dir` as the tar names it, without a
 * trailing slash): several trees in one archive, each read by its own consumers.
 */
export function withinDir(dir: string, consumer: TarConsumer): TarConsumer {
  const exact = Buffer.from(dir);
  const under = Buffer.from(`${dir}/`);
  const inside = (path: Buffer) => path.equals(exact) || (path.length >= under.length && under.equals(path.subarray(0, under.length)));
  return { entry: (entry) => (inside(entry.path) ? consumer.entry(entry) : Promise.resolve(null)) };
}
