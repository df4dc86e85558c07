/**
 * A small structured logger: one JSON object per line on stderr (stdout may carry events). The
 * operations issue replaces it with pino; the call shape (`log.info(message, fields)`) stays.
 */
import type { Writable } from 'node:stream';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(stream: Writable, minimum: Level = 'info'): Logger {
  const write = (level: Level, message: string, fields: Record<string, unknown> = {}): void => {
    if (ORDER[level] < ORDER[minimum]) return;
    stream.write(JSON.stringify({ level, time: new Date().toISOString(), msg: message, ...fields }) + '\n');
  };
  return {
    debug: (m, f) => {
      write('debug', m, f);
    },
    info: (m, f) => {
      write('info', m, f);
    },
    warn: (m, f) => {
      write('warn', m, f);
    },
    error: (m, f) => {
      write('error', m, f);
    },
  };
}

/** A logger that keeps nothing (tests, quiet commands). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
