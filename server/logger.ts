import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/** Secrets never reach the log: anything under these paths is replaced. */
const REDACT = ['authorization', '*.authorization', 'headers.authorization', '*.headers.authorization', 'token', '*.token', 'key', '*.key', 'apiKey', '*.apiKey', 'secrets', '*.secrets'];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'codex-runner' } }, destination);
}

/**
 * Readable lines for a person at a terminal; services keep pino's JSON. Redaction happens before
 * the destination, so it holds here too. Synchronous, so a line logged just before exit is written.
 */
export function prettyDestination(output: NodeJS.WritableStream = process.stdout, colorize = true): pino.DestinationStream {
  return pretty({ destination: output, colorize, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' });
}

/** pino's JSON unless stdout is a terminal. */
export function logDestination(stdout: NodeJS.WriteStream = process.stdout): pino.DestinationStream | undefined {
  return stdout.isTTY ? prettyDestination(stdout) : undefined;
}
