/**
 * Stopping a process weft started, as `docker stop` does: SIGTERM, then SIGKILL when it has
 * not exited within the grace period. The process is identified by pid and start time and
 * re-checked before every signal, so a pid reused by an unrelated process is never signalled.
 */
import { readFileSync } from 'node:fs';
import { isAlive, parseStat } from './proc.js';

const POLL_MS = 50;
/** After SIGKILL the kernel needs a moment to tear the process down; this bounds the wait. */
const KILL_WAIT_MS = 5000;

export type StopOutcome = 'not-running' | 'exited' | 'killed';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Send `sig` if the process is still the one we mean; false when it is gone. */
function signalIfSame(pid: number, startTime: string | undefined, sig: NodeJS.Signals): boolean {
  if (!isAlive(pid, startTime)) return false;
  try {
    process.kill(pid, sig);
    return true;
  } catch (err) {
    // ESRCH: it exited between the check and the signal, which is what we wanted.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

async function waitGone(pid: number, startTime: string | undefined, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!isAlive(pid, startTime)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
  }
}

/** Whether the process leads its own process group (weft run -d starts it in a new session). */
function leadsGroup(pid: number): boolean {
  try {
    const f = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return f !== undefined && Number(f[5 - 3]) === pid;
  } catch {
    return false;
  }
}

/**
 * SIGTERM, wait up to graceMs, then SIGKILL; resolves once the process no longer runs. The
 * SIGKILL goes to the whole process group when the process leads its own (what it started goes
 * with it, as a container's processes do); the group id cannot have been reused while its
 * leader is alive, which is checked just before.
 */
export async function stopProcess(pid: number, startTime: string | undefined, graceMs: number): Promise<StopOutcome> {
  if (!signalIfSame(pid, startTime, 'SIGTERM')) return 'not-running';
  if (await waitGone(pid, startTime, graceMs)) return 'exited';
  if (isAlive(pid, startTime) && leadsGroup(pid)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  } else {
    signalIfSame(pid, startTime, 'SIGKILL');
  }
  await waitGone(pid, startTime, KILL_WAIT_MS);
  return 'killed';
}
