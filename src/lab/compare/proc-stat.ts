/** Machine-wide CPU time from /proc/stat (the lab shares one kernel, so this is all hosts at once). */
import { readFileSync } from 'node:fs';

export interface CpuSample {
  busy: number;
  total: number;
}

/** Parse the aggregate "cpu" line of /proc/stat (pure). */
export function parseProcStat(text: string): CpuSample {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no aggregate cpu line');
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // guest time is already inside user
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

export const readCpu = (): CpuSample => parseProcStat(readFileSync('/proc/stat', 'utf8'));

/** Busy cores (0…ncpu) between two samples. */
export function busyCores(a: CpuSample, b: CpuSample, ncpu: number): number {
  const dt = b.total - a.total;
  return dt > 0 ? ((b.busy - a.busy) / dt) * ncpu : 0;
}
