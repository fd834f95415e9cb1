import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/config.js';
import { createLogger, logDestination } from './logger.js';
import { startServer } from './server.js';

/** What `npm start` and `codex-runner serve` run: `args` are the flags after the command (`--config FILE`). */
export async function serve(args: string[]): Promise<void> {
  try {
    await start(args);
  } catch (err) {
    process.stderr.write(`codex-runner: ${err instanceof ConfigError ? err.message : (err as Error).stack}\n`);
    process.exit(1);
  }
}

async function start(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true });
  const configPath = values.config ?? process.env.CODEX_RUNNER_CONFIG;
  const config = await loadConfig(configPath);
  const log = createLogger(config.server.logLevel, logDestination());
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
