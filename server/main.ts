import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/config.js';
import { createLogger } from './logger.js';
import { startServer } from './server.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } }, strict: true });
  const configPath = values.config ?? process.env.CODEX_RUNNER_CONFIG;
  const config = await loadConfig(configPath);
  const log = createLogger(config.server.logLevel);
  log.info({ config: configPath ?? '(built-in defaults)' }, 'starting');
  const server = await startServer({
    config,
    env: process.env,
    log,
    onGeneratedToken: (token) => {
      // Printed once, to stdout rather than the log, so it is not kept in log files.
      process.stdout.write(`\nNo tenants configured and CODEX_RUNNER_TOKEN is unset; this run's API token:\n\n    ${token}\n\n`);
    },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'shutting down');
      server.close().then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

main().catch((err) => {
  process.stderr.write(`codex-runner: ${err instanceof ConfigError ? err.message : (err as Error).stack}\n`);
  process.exit(1);
});
