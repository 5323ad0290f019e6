/**
 * Structured logger (JSON lines on stderr, through pino); quiet unless WEFT_LOG says otherwise.
 * The interface stays three methods so the rest of weft does not depend on pino. Lines keep
 * weft's shape: {"level":"info","time":"<ISO>","msg":"…", …fields}.
 */
import { pino } from 'pino';

export interface Logger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

const LEVELS = { error: 0, warn: 1, info: 2 } as const;

export function createLogger(level: keyof typeof LEVELS = (process.env.WEFT_LOG as keyof typeof LEVELS) ?? 'info'): Logger {
  const p = pino(
    {
      level: level in LEVELS ? level : 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    // Synchronous: an error logged just before process.exit must not be lost.
    pino.destination({ dest: 2, sync: true }),
  );
  return {
    info: (f, m) => p.info(f, m),
    warn: (f, m) => p.warn(f, m),
    error: (f, m) => p.error(f, m),
  };
}
