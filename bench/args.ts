/** What every benchmark's report needs around its figures: numeric flags and the machine's load. */
import { readFileSync } from 'node:fs';

/** `--name N` from the command line, or `dflt` when the flag is absent. */
export function numArg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

/** The 1, 5 and 15 minute load averages, as `uptime` prints them: every figure is reported with them. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
