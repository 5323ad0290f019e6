/** Running things inside endpoints for the measurements and checks: background servers, bounded waits. */
import type { ChildProcess } from 'node:child_process';
import { mustRun, sleep, type RunResult } from '../sim-host.js';
import type { CompareEndpoint, ExecOptions } from './design-adapter.js';

export interface Background {
  child: ChildProcess;
  /** Everything it printed (stdout and stderr). */
  output(): string;
  /** Its next stdout line, from a queue: a line printed before anyone asked is kept. */
  nextLine(timeoutMs: number): Promise<string>;
  stop(): void;
}

/** Start argv inside ep; stop() kills exactly that process (by its pid). */
export function background(ep: CompareEndpoint, argv: string[]): Background {
  const child = ep.spawn(argv);
  let out = '';
  let partial = '';
  const lines: string[] = [];
  let waiter: (() => void) | undefined;
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
    partial += c.toString();
    for (let i = partial.indexOf('\n'); i >= 0; i = partial.indexOf('\n')) {
      lines.push(partial.slice(0, i));
      partial = partial.slice(i + 1);
    }
    waiter?.();
  });
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const nextLine = async (timeoutMs: number): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (lines.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${timeoutMs} ms (output: ${out.slice(-200)})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      waiter = undefined;
    }
    return lines.shift()!;
  };
  // A failed spawn is reported through output(); the measurement that needed it fails on its own.
  child.on('error', (e) => (out += `spawn error: ${e.message}`));
  return {
    child,
    output: () => out,
    nextLine,
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

/** A short one-line summary of a command's result for evidence. */
export function brief(r: RunResult, max = 160): string {
  const text = (r.stdout.trim() || r.stderr.trim()).replace(/\s+/g, ' ');
  return `exit ${r.code}${text ? `: ${text.slice(0, max)}` : ''}`;
}

/** Run argv in a lab namespace (by name); throws with its stderr when it fails. */
export function mustRunIn(ns: string, argv: string[], opts: ExecOptions = {}): Promise<string> {
  return mustRun('nsenter', [`--net=/run/netns/${ns}`, ...argv], opts);
}

/** The next line a background process prints on stdout (bounded); lines are queued, none is lost. */
export function nextLine(bg: Background, timeoutMs: number): Promise<string> {
  return bg.nextLine(timeoutMs);
}

/** Wait until something listens on TCP `port` inside ep (ss), bounded; throws with the server's output. */
export async function waitListening(ep: CompareEndpoint, port: number, server: Background, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await ep.exec(['ss', '-Hltn', `sport = :${port}`], { timeoutMs: 10_000 });
    if (r.code === 0 && r.stdout.trim()) return;
    if (server.child.exitCode !== null) throw new Error(`server in ${ep.id} exited: ${server.output().slice(0, 300)}`);
    if (Date.now() > deadline)
      throw new Error(`nothing listens on ${ep.id}:${port} after ${timeoutMs} ms: ${server.output().slice(0, 300)}`);
    await sleep(100);
  }
}
