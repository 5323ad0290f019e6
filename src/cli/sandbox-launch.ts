/**
 * Start a command inside a sandbox: a private mount namespace (so the sandbox's own hosts and
 * resolv.conf can be bound over /etc's) and UTS namespace, then the network namespace.
 * util-linux `unshare` makes the namespaces; our exec helper binds the files and execs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SandboxView } from '../controller/inspect.js';

const EXEC_HELPER = fileURLToPath(new URL('../kernel/sandbox-exec.js', import.meta.url));

export function launchInSandbox(sb: SandboxView, cmd: string[], opts: { detach: boolean; logPath?: string }): ChildProcess {
  const args = [
    '--mount',
    '--uts',
    '--propagation',
    'private',
    '--',
    process.execPath,
    EXEC_HELPER,
    sb.netnsPath,
    sb.hostsPath ?? '',
    sb.resolvPath ?? '',
    sb.hostname,
    '--',
    ...cmd,
  ];
  if (opts.detach) {
    const out = opts.logPath ? openSync(opts.logPath, 'a') : 'ignore';
    const child = spawn('unshare', args, { stdio: ['ignore', out, out], detached: true });
    child.unref();
    return child;
  }
  return spawn('unshare', args, { stdio: 'inherit' });
}
