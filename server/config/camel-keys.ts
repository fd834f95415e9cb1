// The config file is snake_case (TOML's custom); the code reads camelCase. The rename is typed, so
// the camelCase `Config` follows from the schema and a new key needs no second spelling.

/** `max_request_mb` → `maxRequestMb`, as a type. */
export type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

/** T with its own keys camelCased; nested values are left as they are. */
export type CamelKeys<T> = { [K in keyof T as K extends string ? CamelCase<K> : K]: T[K] };

export function camelCase<S extends string>(key: S): CamelCase<S> {
  return key.replace(/_(.)/g, (_, c: string) => c.toUpperCase()) as CamelCase<S>;
}

/**
 * A copy of an object with its own keys camelCased. Shallow on purpose: tables keyed by name
 * (providers, headers, query parameters) keep their keys as written.
 */
export function camelKeys<T extends object>(o: T): CamelKeys<T> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [camelCase(k), v])) as CamelKeys<T>;
}
