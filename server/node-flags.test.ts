import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from './node-flags.js';

describe('the server\'s Node flags', () => {
  it('are on every command line that starts the server', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${SERVER_NODE_FLAGS.join(' ')} dist/server/main.js`);
    const dockerfile = await readFile(new URL('../server.Dockerfile', import.meta.url), 'utf8');
    expect(dockerfile).toContain(`CMD ["node", ${SERVER_NODE_FLAGS.map((f) => JSON.stringify(f)).join(', ')}, "dist/server/main.js"]`);
  });
});
