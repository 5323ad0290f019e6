/** Running things inside endpoints for the measurements and checks: background servers, bounded waits. */
import type { ChildProcess } from 'node:child_process';
import { mustRun, sleep, type RunResult } from '../sim-host.js';
import type { CompareEndpoint, ExecOptions } from './design-adapter.js';

export interface Background {
  child: ChildProcess;
  output(): string;
  stop(): void;
}

/** Start argv inside ep; stop() kills exactly that process (by its pid). */
export function background(ep: CompareEndpoint, argv: string[]): Background {
  const child = ep.spawn(argv);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  // A failed spawn is reported through output(); the measurement that needed it fails on its own.
  child.on('error', (e) => (out += `spawn error: ${e.message}`));
  return {
    child,
    output: () => out,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* exited between the check and the kill */
        }
      }
    },
  };
}

/** Run in ep until it exits 0, retrying while `retryIf` says the failure is "not ready yet". */
export async function execRetry(
  ep: CompareEndpoint,
  argv: string[],
  opts: ExecOptions & { tries?: number; retryIf?: (r: RunResult) => boolean },
): Promise<RunResult> {
  let r: RunResult = { code: 1, stdout: '', stderr: 'not run' };
  for (let i = 0; i < (opts.tries ?? 20); i++) {
    r = await ep.exec(argv, opts);
    if (r.code === 0 || !(opts.retryIf?.(r) ?? true)) return r;
    await sleep(150);
  }
  return r;
}

/** A short one-line summary of a command's result for evidence. */
export function brief(r: RunResult, max = 160): string {
  const text = (r.stdout.trim() || r.stderr.trim()).replace(/\s+/g, ' ');
  return `exit ${r.code}${text ? `: ${text.slice(0, max)}` : ''}`;
}

/** Run argv in a lab namespace (by name); throws with its stderr when it fails. */
export function mustRunIn(ns: string, argv: string[], opts: ExecOptions = {}): Promise<string> {
  return mustRun('nsenter', [`--net=/run/netns/${ns}`, ...argv], opts);
}

/** The next line a background process prints (bounded). */
export function nextLine(bg: Background, timeoutMs: number): Promise<string> {
  const out = bg.child.stdout!;
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (c: Buffer): void => {
      buf += c.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) {
        done();
        // Anything after the line belongs to the next read; the prober prints one line per request.
        resolve(buf.slice(0, i));
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no line within ${timeoutMs} ms (output: ${bg.output().slice(-200)})`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      out.off('data', onData);
    };
    out.on('data', onData);
  });
}
