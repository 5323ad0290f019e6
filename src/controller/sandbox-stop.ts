/**
 * The process side of a sandbox's life. A sandbox made by `weft run` is like a container: its
 * command is weft's to stop (`weft sandbox stop`, `rm -f`), and `rm` refuses while it runs.
 * A namespace weft did not start (weft attach, CNI, Docker) is only ever detached: its
 * processes belong to someone else and are never signalled.
 */
import type { SandboxRecord } from '../model/types.js';
import { InUseError, InvalidArgumentError } from '../errors.js';
import type { KernelPort, StopOutcome } from '../kernel/kernel-port.js';

/** Docker's default for `docker stop`. */
export const DEFAULT_STOP_GRACE_S = 10;
export const MAX_STOP_GRACE_S = 3600;

/** Whether the sandbox has a command weft started that still runs. */
export function runsCommand(kernel: Pick<KernelPort, 'isAlive'>, sb: SandboxRecord): boolean {
  return sb.managedProcess === true && sb.pid !== undefined && kernel.isAlive(sb.pid, sb.pidStartTime);
}

/** `-t/--time` as given by a client: whole seconds, 0 … 3600. */
export function parseGraceSeconds(value: string | null | undefined, field = 'time'): number {
  if (value === null || value === undefined || value === '') return DEFAULT_STOP_GRACE_S;
  if (!/^\d{1,4}$/.test(value) || Number(value) > MAX_STOP_GRACE_S)
    throw new InvalidArgumentError(field, `"${value}" is not a number of seconds from 0 to ${MAX_STOP_GRACE_S}`);
  return Number(value);
}

/** Refuse to remove a sandbox whose command runs, unless forced. */
export function assertRemovable(kernel: Pick<KernelPort, 'isAlive'>, sb: SandboxRecord, force: boolean): void {
  if (!force && runsCommand(kernel, sb)) {
    throw new InUseError(`sandbox "${sb.name}" is running (pid ${sb.pid}); stop it first (weft sandbox stop) or remove it with --force`);
  }
}

/** Stop the sandbox's command (SIGTERM, SIGKILL after graceS). */
export async function stopCommand(kernel: Pick<KernelPort, 'stopProcess'>, sb: SandboxRecord, graceS: number): Promise<StopOutcome> {
  if (sb.managedProcess !== true || sb.pid === undefined) return 'not-running';
  return kernel.stopProcess(sb.pid, sb.pidStartTime, graceS * 1000);
}

/** `stop` applies to sandboxes weft started a command for; others are detached with rm. */
export function assertStoppable(sb: SandboxRecord): void {
  if (sb.kind === 'external') {
    throw new InvalidArgumentError(
      'sandbox',
      `"${sb.name}" is a namespace weft did not start (${sb.netnsPath}); weft never stops its processes: use weft sandbox rm to detach it`,
    );
  }
}
