// The `codex-runner` command: a client of the HTTP API (never of the run service), plus `serve`,
// which starts the server as `npm start` does.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ApiClient, type ApiTarget } from './api-client.js';
import { cancelCommand, listCommand, logsCommand, statusCommand } from './commands/runs.js';
import { runCommand, type RunFlags } from './commands/run.js';
import { newToken, tokenText } from './commands/token.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';

const DEFAULT_URL = 'http://127.0.0.1:8080';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('a whole number above 0');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a whole number, 0 or more');
  return n;
}

/** The server's flags, on every command that talks to it (after the command name or before it). */
function withServer(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'the server').env('CODEX_RUNNER_URL').default(DEFAULT_URL))
    .addOption(new Option('--token <token>', 'the API token').env('CODEX_RUNNER_TOKEN'));
}

function target(command: Command): ApiTarget {
  const { url, token } = command.optsWithGlobals<{ url: string; token?: string }>();
  if (!token) throw new CliError(EXIT.usage, 'no API token: pass --token or set CODEX_RUNNER_TOKEN');
  return { url, token };
}

export function buildProgram(done: (code: ExitCode) => void): Command {
  const program = new Command('codex-runner')
    .description('Runs the OpenAI Codex CLI on a codex-runner server, on a directory of yours.')
    .showHelpAfterError()
    .exitOverride();

  withServer(
    program
      .command('run')
      .description('upload DIR (or continue a run), run Codex on it, print its final message and keep its diff')
      .argument('[dir]', 'the directory to send (a git work tree sends what git would commit); with --continue, only where --apply applies', '.')
      .requiredOption('-p, --prompt <text>', 'what Codex should do')
      .option('--continue <id>', "a follow-up turn of the ended run ID, from its final workspace and Codex session: nothing is uploaded, and options not given are the run's")
      .addOption(
        new Option('--base <base>', "with --continue, the diff written and applied: this turn's changes (parent, the default) or every turn's since the first run's upload (root)").choices(['parent', 'root']),
      )
      .option('--schema <file>', "a JSON Schema (a .json file) Codex's final message must match; prints the run's output, that JSON, instead of the message")
      .option('--provider <name>', "a provider the server has (default: the server's)")
      .option('--model <name>', "the model (default: the server's)")
      .option('--timeout <s>', 'the run timeout in seconds', positiveInt)
      .option('--apply', 'apply the diff to DIR with git apply when the run succeeds (DIR must be clean)')
      .option('--force', 'with --apply: apply even when DIR has uncommitted changes')
      .option('--diff <file>', 'where to write the diff (default: codex-runner-<run id>.patch)')
      .option('--out <file>', 'also download the edited workspace as a .tar.gz')
      .option('--with-git', 'send the .git directory too (not with --continue)')
      .option('--json', 'print the run as JSON instead of its final message (or output)'),
  ).action(async (dir: string, flags: RunFlags, command: Command) => done(await runCommand(dir, flags, new ApiClient(target(command)))));

  program
    .command('serve')
    .description('start the server (as npm start does)')
    .option('-c, --config <file>', 'the config file (default: CODEX_RUNNER_CONFIG, else built-in defaults)')
    .action(async (flags: { config?: string }) => {
      const { serve } = await import('../serve.js');
      await serve(flags.config ? ['--config', flags.config] : []);
    });

  program
    .command('token')
    .description('make an API token and print the [[tenants]] block that admits it')
    .option('--tenant <name>', 'the tenant name', 'default')
    .action((flags: { tenant: string }) => {
      process.stdout.write(tokenText(flags.tenant, newToken()));
      done(EXIT.succeeded);
    });

  withServer(program.command('status').description("print a run's state").argument('<id>', 'the run id').option('--json', 'print the run as JSON')).action(
    async (id: string, flags: { json?: boolean }, command: Command) => done(await statusCommand(id, flags, target(command))),
  );

  withServer(
    program
      .command('logs')
      .description("print a run's events (all of them, or after --after N)")
      .argument('<id>', 'the run id')
      .option('-f, --follow', 'keep following until the run ends')
      .option('--after <seq>', 'resume after this event number', nonNegativeInt)
      .option('--json', 'print each event as a JSON line ({seq, kind, data})'),
  ).action(async (id: string, flags: { follow?: boolean; after?: number; json?: boolean }, command: Command) => done(await logsCommand(id, flags, target(command))));

  withServer(program.command('cancel').description('cancel a queued or running run').argument('<id>', 'the run id').option('--json', 'print the run as JSON')).action(
    async (id: string, flags: { json?: boolean }, command: Command) => done(await cancelCommand(id, flags, target(command))),
  );

  withServer(
    program
      .command('list')
      .description('your runs, newest first')
      .option('--status <status>', 'only runs with this status')
      .option('--limit <n>', 'at most this many (1 to 100)', positiveInt)
      .option('--cursor <cursor>', 'the page after the one that printed it')
      .option('--json', 'print the page as JSON'),
  ).action(async (flags: { status?: string; limit?: number; cursor?: string; json?: boolean }, command: Command) => done(await listCommand(flags, target(command))));

  return program;
}

export async function main(argv: string[]): Promise<void> {
  let code: ExitCode | undefined;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with code 0; anything else commander refuses is a usage error.
      process.exitCode = err.exitCode === 0 ? EXIT.succeeded : EXIT.usage;
      return;
    }
    if (err instanceof CliError) {
      process.stderr.write(`codex-runner: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`codex-runner: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = EXIT.failed;
    return;
  }
  // `serve` sets no code: the server runs until a signal ends it.
  if (code !== undefined) process.exitCode = code;
}
