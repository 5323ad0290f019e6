/** Minimal structured logger (JSON lines on stderr); quiet unless WEFT_LOG says otherwise. */
export interface Logger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

const LEVELS = { error: 0, warn: 1, info: 2 } as const;

export function createLogger(level: keyof typeof LEVELS = (process.env.WEFT_LOG as keyof typeof LEVELS) ?? 'info'): Logger {
  const max = LEVELS[level] ?? 2;
  const emit = (lvl: keyof typeof LEVELS, fields: Record<string, unknown>, msg: string): void => {
    if (LEVELS[lvl] > max) return;
    process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }) + '\n');
  };
  return {
    info: (f, m) => emit('info', f, m),
    warn: (f, m) => emit('warn', f, m),
    error: (f, m) => emit('error', f, m),
  };
}
