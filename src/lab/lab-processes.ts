/**
 * Finding what a lab or a fake host left running: the processes that live in one of its network
 * namespaces — the named ones and the sandbox namespaces weftd bind-mounted under its run
 * directory — and the mounts under its directory. A namespace is known by device and inode,
 * so a process is matched by what it is in, never by its name.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';

/** Mount points at or under dir, deepest first. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(dir + '/')))
    .sort((a, b) => b.length - a.length);
}

const key = (s: { dev: number; ino: number }): string => `${s.dev}:${s.ino}`;

/**
 * Pids (other than this process) whose network namespace is one of the files at `nsPaths`
 * (missing or non-namespace paths match nothing: a plain file has another device than nsfs).
 */
export function pidsInNetns(nsPaths: readonly string[]): number[] {
  const wanted = new Set<string>();
  for (const p of nsPaths) {
    try {
      wanted.add(key(statSync(p)));
    } catch {
      /* gone already: nothing can live in it */
    }
  }
  if (wanted.size === 0) return [];
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (wanted.has(key(statSync(`/proc/${p}/ns/net`)))) out.push(Number(p));
    } catch {
      /* exited while we looked */
    }
  }
  return out;
}
