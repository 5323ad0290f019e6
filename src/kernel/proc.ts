/** Process liveness from /proc, robust to pid reuse (a pid plus its start time). */
import { readFileSync } from 'node:fs';

/** Fields 3… of a /proc/PID/stat line ([0] is the state). */
export function parseStat(text: string): string[] | undefined {
  // comm (field 2) is in parentheses and may contain spaces and ')': split after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text
    .slice(close + 2)
    .trim()
    .split(' ');
  return f.length >= 20 ? f : undefined;
}

function stat(pid: number): string[] | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Start time of a process (field 22 of /proc/PID/stat, clock ticks since boot), if it exists. */
export function processStartTime(pid: number): string | undefined {
  return stat(pid)?.[22 - 3];
}

/**
 * Whether the process runs (zombies do not count); with `startTime`, also that it is the same
 * process and not a later one that reused the pid.
 */
export function isAlive(pid: number, startTime?: string): boolean {
  const f = stat(pid);
  if (!f || f[0] === 'Z' || f[0] === 'X') return false;
  return startTime === undefined || f[22 - 3] === startTime;
}
