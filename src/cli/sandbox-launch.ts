/**
 * Start a command inside a sandbox through the compiled helper (src/kernel/sandbox-exec.c,
 * built to dist/bin/weft-exec): private mount + UTS namespaces, the sandbox's hosts and
 * resolv.conf bound over /etc's, its hostname, its network namespace, then exec.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SandboxView } from '../controller/inspect.js';
import { WeftError } from '../errors.js';

export const EXEC_HELPER = fileURLToPath(new URL('../../bin/weft-exec', import.meta.url));

export function launchInSandbox(sb: SandboxView, cmd: string[], opts: { detach: boolean; logPath?: string }): ChildProcess {
  if (!existsSync(EXEC_HELPER))
    throw new WeftError(
      'WEFT_INTERNAL',
      `the sandbox exec helper ${EXEC_HELPER} is missing: run \`npm run build\` (it needs a C compiler)`,
    );
  const args = [sb.netnsPath, sb.hostsPath ?? '', sb.resolvPath ?? '', sb.hostname, '--', ...cmd];
  if (opts.detach) {
    const out = opts.logPath ? openSync(opts.logPath, 'a') : 'ignore';
    const child = spawn(EXEC_HELPER, args, { stdio: ['ignore', out, out], detached: true });
    child.unref();
    return child;
  }
  return spawn(EXEC_HELPER, args, { stdio: 'inherit' });
}
