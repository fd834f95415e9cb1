#!/usr/bin/env node
// The `codex-runner` bin. In a clone it runs the TypeScript source through tsx, so it is never a
// stale build; where there is no source (a built package), the compiled dist.
import { existsSync } from 'node:fs';

const source = new URL('../server/cli/main.ts', import.meta.url);
const built = new URL('../dist/server/cli/main.js', import.meta.url);

let entry = built;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = source;
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
// `serve` keeps running; every other command ends here, whatever sockets fetch keeps open.
if (process.exitCode !== undefined) process.exit(process.exitCode);
