// The README's configuration blocks, checked against the schema: each parses as written, the
// defaults block holds every key with its real default, and no key goes undocumented.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../server/config/config.js';
import { configFileSchema } from '../server/config/schema.js';

const README = fileURLToPath(new URL('../README.md', import.meta.url));
const DEFAULT_SECTIONS = ['server', 'sandbox', 'limits', 'gateway', 'pool', 'store', 'metrics', 'webhooks', 'retention', 'defaults'] as const;

async function tomlBlocks(): Promise<{ text: string; marker: string | null }[]> {
  const readme = await readFile(README, 'utf8');
  return [...readme.matchAll(/(?:<!-- readme-example: ([\w-]+) -->\n)?```toml\n([\s\S]*?)```/g)].map((m) => ({ marker: m[1] ?? null, text: m[2]! }));
}

const camel = (key: string) => key.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());

/** The config keys a TOML section's key stands for (`listen` is split in two). */
function configKeys(key: string): string[] {
  return key === 'listen' ? ['listenHost', 'listenPort'] : [camel(key)];
}

function merged(base: Record<string, unknown>, part: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(part)) {
    const under = out[key];
    const bothTables = typeof value === 'object' && !Array.isArray(value) && typeof under === 'object' && !Array.isArray(under);
    out[key] = bothTables ? merged(under as Record<string, unknown>, value as Record<string, unknown>) : value;
  }
  return out;
}

describe('the README configuration', () => {
  it('parses every TOML block as written, each as a part added to the defaults block', async () => {
    const blocks = await tomlBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const base = parseToml(blocks.find((b) => b.marker === 'config-defaults')!.text);
    for (const { text } of blocks) expect(() => parseConfig(merged(base, parseToml(text)))).not.toThrow();
  });

  it('gives every key of the defaults sections its real default value', async () => {
    const defaults = parseConfig({}) as unknown as Record<string, Record<string, unknown>>;
    const blocks = await tomlBlocks();
    const base = parseToml(blocks.find((b) => b.marker === 'config-defaults')!.text);
    for (const { text } of blocks) {
      const raw = parseToml(text) as Record<string, Record<string, unknown>>;
      const parsed = parseConfig(merged(base, raw)) as unknown as Record<string, Record<string, unknown>>;
      for (const section of DEFAULT_SECTIONS) {
        for (const key of Object.keys(raw[section] ?? {})) {
          for (const configKey of configKeys(key)) {
            expect({ key: `${section}.${key}`, value: parsed[section]![configKey] }).toEqual({ key: `${section}.${key}`, value: defaults[section]![configKey] });
          }
        }
      }
    }
  });

  it('documents every key of the defaults sections', async () => {
    const text = (await tomlBlocks()).map((b) => b.text).join('\n');
    const documented = new Set<string>();
    let section = '';
    for (const line of text.split('\n')) {
      const header = /^\[(\w+)\]/.exec(line);
      if (header) section = header[1]!;
      const key = /^#?\s*(\w+)\s*=/.exec(line);
      if (key) for (const configKey of configKeys(key[1]!)) documented.add(`${section}.${configKey}`);
    }
    const defaults = parseConfig({}) as unknown as Record<string, Record<string, unknown>>;
    const missing = DEFAULT_SECTIONS.flatMap((s) => Object.keys(defaults[s]!).map((k) => `${s}.${k}`)).filter((k) => !documented.has(k));
    expect(missing).toEqual([]);
  });

  it('documents every tenant key in the example tenant, with the default it stands for', async () => {
    const block = (await tomlBlocks()).find((b) => b.marker === 'config-defaults')!.text;
    const tenant = block.slice(block.indexOf('[[tenants]]'));
    const documented = [...tenant.matchAll(/^#?\s*(\w+)\s*=\s*(\S+)/gm)].map((m) => [m[1]!, m[2]!] as const);
    const keys = Object.keys(configFileSchema.shape.tenants.unwrap().element.shape);
    expect(documented.map(([key]) => key).sort()).toEqual([...keys].sort());
    // A commented key shows what an unset one means: the server's own value.
    const defaults = parseConfig({});
    const serverValue: Record<string, unknown> = {
      run_max_requests: defaults.limits.runMaxRequests,
      run_max_tokens: defaults.limits.runMaxTokens,
      max_concurrent_runs: defaults.limits.maxConcurrentRuns,
      max_queued_runs: defaults.limits.maxQueuedRuns,
      weight: 1,
      max_timeout_s: defaults.limits.maxTimeoutS,
      max_memory_mb: defaults.sandbox.memoryMb,
      max_cpus: defaults.sandbox.cpus,
      max_workspace_mb: defaults.sandbox.workspaceMb,
    };
    for (const [key, value] of documented) if (key in serverValue) expect({ key, value: Number(value) }).toEqual({ key, value: serverValue[key] });
  });

  it('makes the marked defaults block, without its example provider and tenant, the built-in defaults', async () => {
    const block = (await tomlBlocks()).find((b) => b.marker === 'config-defaults');
    expect(block).toBeDefined();
    const raw = parseToml(block!.text) as Record<string, unknown> & { providers: Record<string, unknown> };
    const { tenants, ...rest } = raw;
    expect(tenants).toHaveLength(1);
    const { ollama, ...providers } = raw.providers;
    expect(ollama).toBeDefined();
    expect(parseConfig({ ...rest, providers })).toEqual(parseConfig({}));
  });
});
