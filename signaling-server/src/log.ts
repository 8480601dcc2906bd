/**
 * The server's log: one line per join, leave, report and error. By default structured JSON on
 * stdout (pino), one object per line with `msg` and the event's fields; tests pass a quiet logger,
 * the swarm CLI a file. Whatever a client sent is quoted at most ~64 characters (quote()).
 */
import { pino, type Level } from 'pino';

export interface Logger {
  info(line: string, fields?: Record<string, unknown>): void;
  error(line: string, fields?: Record<string, unknown>): void;
  /** What only a debugging operator wants (refused handshakes, dropped events). */
  debug?(line: string, fields?: Record<string, unknown>): void;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = Level | 'silent';

/** JSON lines on stdout at `level` and above. */
export function jsonLogger(level: LogLevel = 'info'): Logger {
  const logger = pino({ level, base: { service: 'tabswarm-signaling' } });
  return {
    info: (line, fields) => logger.info(fields ?? {}, line),
    error: (line, fields) => logger.error(fields ?? {}, line),
    debug: (line, fields) => logger.debug(fields ?? {}, line),
  };
}
