import pino, { type Logger } from 'pino';

/** Secrets never reach the log: anything under these paths is replaced. */
const REDACT = ['authorization', '*.authorization', 'headers.authorization', '*.headers.authorization', 'token', '*.token', 'key', '*.key', 'apiKey', '*.apiKey', 'secrets', '*.secrets'];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'codex-runner' } }, destination);
}
