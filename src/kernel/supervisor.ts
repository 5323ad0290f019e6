/**
 * The one place weft starts and watches helper daemons (BIRD now; wireguard-go and others
 * later). A program runs from an argument vector (never a shell), optionally inside a network
 * namespace, detached into its own session so it outlives a weftd restart; its stdout and
 * stderr go to a size-bounded log file; a pid file lets the next weftd adopt it after checking
 * that the pid still runs the same argument vector in the same namespace (pids are reused).
 *
 * Namespaces: the child is started through `nsenter --net=PATH -- PROGRAM ARGS…`. nsenter
 * enters the namespace and execs the program, so the pid we get is the program's own pid and
 * its /proc cmdline is exactly PROGRAM ARGS… . Entering with setns from a forked Node helper
 * would cost a Node start (~125 ms) and a second exec for the same result.
 *
 * Unexpected exits are restarted with exponential backoff, at most `maxRestarts` times within
 * `windowMs`; beyond that the process is left down and 'gave-up' is emitted. Stop is SIGTERM,
 * then SIGKILL after a grace period, always to a pid whose identity was checked first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { appendFileSync, closeSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { InvalidArgumentError, KernelError, TimeoutError, WeftError } from '../errors.js';
import { BoundedLog } from './bounded-log.js';
import { netnsInode } from './netns.js';
import { isAlive, processStartTime } from './proc.js';
import { identityMismatch } from './process-identity.js';
import { resolveProgram } from './program-path.js';

/** How to tell that a started program is ready to serve. */
export type ReadyCheck =
  /** A unix socket at this path accepts a connection. */
  | { socket: string }
  /** A file exists at this path. */
  | { file: string }
  /** Anything else; resolve true when ready. Errors count as "not yet". */
  | { probe: () => Promise<boolean> };

export interface RestartPolicy {
  /** Restart after an unexpected exit (default true). */
  enabled: boolean;
  /** First delay; doubles per restart within the window (default 200 ms). */
  initialDelayMs: number;
  /** Delay cap (default 10 s). */
  maxDelayMs: number;
  /** Restarts allowed within `windowMs` before giving up (default 5). */
  maxRestarts: number;
  windowMs: number;
}

export interface ProgramSpec {
  /** Identity for files and events: lowercase letters, digits and dashes. */
  name: string;
  /** Bare name (looked up in PATH and sbin) or absolute path. */
  program: string;
  /** Debian package that provides the program, named when it is missing. */
  packageName: string;
  args: readonly string[];
  /** Environment of the child; default just PATH. */
  env?: Record<string, string>;
  /** Path of the network namespace to run in (bind mount or /proc/PID/ns/net); default: weftd's own. */
  netns?: string;
  /** Directory for NAME.pid and NAME.log. */
  runDir: string;
  cwd?: string;
  /** Log size bound in bytes (default 1 MiB; one rotated copy is kept). */
  logMaxBytes?: number;
  /** How often the log size is checked (default 2 s). */
  logCheckMs?: number;
  ready?: ReadyCheck;
  /** Bound on the readiness wait (default 10 s). */
  readyTimeoutMs?: number;
  restart?: Partial<RestartPolicy>;
  /** SIGTERM → SIGKILL grace (default 5 s). */
  stopGraceMs?: number;
}

export type ProcessState = 'stopped' | 'starting' | 'running' | 'backoff' | 'stopping' | 'failed';

export interface ExitInfo {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Whether weft asked for it (stop) rather than the program dying on its own. */
  expected: boolean;
}

export interface SupervisorEvents {
  started: [{ pid: number; adopted: boolean }];
  ready: [{ pid: number; ms: number }];
  exit: [ExitInfo];
  restarting: [{ attempt: number; delayMs: number }];
  'gave-up': [{ restarts: number; last: ExitInfo }];
  /** A restart attempt itself failed (e.g. readiness timed out); another may follow. */
  'restart-failed': [{ attempt: number; error: WeftError }];
}

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const POLL_MS = 25;
const ADOPTED_POLL_MS = 250;
const LOG_CHECK_MS = 2000;

const DEFAULT_RESTART: RestartPolicy = { enabled: true, initialDelayMs: 200, maxDelayMs: 10_000, maxRestarts: 5, windowMs: 60_000 };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function socketAccepts(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function checkReady(r: ReadyCheck): Promise<boolean> {
  if ('socket' in r) return socketAccepts(r.socket);
  if ('file' in r) {
    try {
      readFileSync(r.file);
      return true;
    } catch {
      return false; // not there yet
    }
  }
  try {
    return await r.probe();
  } catch {
    return false; // a probe that throws means "not yet"; the wait is bounded
  }
}

/** One supervised program. Create through Supervisor.add (or directly in tests). */
export class SupervisedProcess extends EventEmitter<SupervisorEvents> {
  readonly spec: ProgramSpec;
  readonly pidFile: string;
  readonly log: BoundedLog;
  private readonly policy: RestartPolicy;
  private programPath?: string;
  private stateValue: ProcessState = 'stopped';
  private pidValue?: number;
  private startTime?: string;
  private child?: ChildProcess;
  private adoptedPoll?: NodeJS.Timeout;
  private logTimer?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  private restartTimes: number[] = [];
  private stopRequested = false;
  private exitWaiters: (() => void)[] = [];
  /** Set by detach(): the program now belongs to whoever adopts it next. */
  private detached = false;
  /** The pid weft is deliberately terminating: its exit is expected. */
  private killing?: number;

  constructor(spec: ProgramSpec) {
    super();
    if (!NAME_RE.test(spec.name)) throw new InvalidArgumentError('name', `"${spec.name}" must be lowercase letters, digits and dashes`);
    if (!path.isAbsolute(spec.runDir)) throw new InvalidArgumentError('runDir', `"${spec.runDir}" must be an absolute path`);
    if (spec.netns !== undefined && !path.isAbsolute(spec.netns)) {
      throw new InvalidArgumentError('netns', `"${spec.netns}" must be an absolute path`);
    }
    for (const a of spec.args) if (a.includes('\0')) throw new InvalidArgumentError('args', 'arguments may not contain NUL');
    this.spec = spec;
    this.policy = { ...DEFAULT_RESTART, ...spec.restart };
    this.pidFile = path.join(spec.runDir, `${spec.name}.pid`);
    this.log = new BoundedLog(path.join(spec.runDir, `${spec.name}.log`), spec.logMaxBytes ?? 1 << 20);
  }

  get state(): ProcessState {
    return this.stateValue;
  }

  /** Pid of the running program, if any. */
  get pid(): number | undefined {
    return this.stateValue === 'running' || this.stateValue === 'starting' || this.stateValue === 'stopping' ? this.pidValue : undefined;
  }

  /** The argument vector the program runs with, as /proc shows it. */
  expectedArgv(): string[] {
    this.programPath ??= resolveProgram(this.spec.program, this.spec.packageName);
    return [this.programPath, ...this.spec.args];
  }

  /**
   * Adopt the program if the pid file names a live process with the same argv and namespace;
   * otherwise start it. Resolves once it is ready. Returns whether it was adopted.
   */
  async ensure(): Promise<{ pid: number; adopted: boolean }> {
    if (this.stateValue === 'running' && this.pidValue !== undefined) return { pid: this.pidValue, adopted: false };
    if (this.stateValue !== 'stopped' && this.stateValue !== 'failed') {
      throw new WeftError('WEFT_CONFLICT', `${this.spec.name} is ${this.stateValue}`, { field: 'state' });
    }
    this.stopRequested = false;
    this.detached = false;
    this.restartTimes = [];
    const adopted = this.tryAdopt();
    if (adopted !== undefined) return { pid: adopted, adopted: true };
    const pid = await this.spawnAndWait();
    return { pid, adopted: false };
  }

  /** Pid from the pid file if it is still our program; removes a stale pid file. */
  private tryAdopt(): number | undefined {
    let text: string;
    try {
      text = readFileSync(this.pidFile, 'utf8');
    } catch {
      return undefined; // no pid file: nothing to adopt
    }
    const pid = Number(text.trim());
    const mismatch = Number.isInteger(pid) && pid > 0 ? identityMismatch(pid, this.identity()) : 'pid file is malformed';
    if (mismatch !== undefined) {
      this.note(`not adopting from ${this.pidFile}: ${mismatch}`);
      rmSync(this.pidFile, { force: true });
      return undefined;
    }
    this.pidValue = pid;
    this.startTime = processStartTime(pid);
    this.setState('running');
    this.note(`adopted running pid ${pid}`);
    this.watchAdopted();
    this.startLogTimer();
    this.emit('started', { pid, adopted: true });
    return pid;
  }

  private identity(): { argv: string[]; netnsInode?: number } {
    const argv = this.expectedArgv();
    if (this.spec.netns === undefined) return { argv };
    const ino = netnsInode(this.spec.netns);
    if (ino === undefined) throw new KernelError(`start ${this.spec.name}`, `${this.spec.netns} is not a network namespace`);
    return { argv, netnsInode: ino };
  }

  private spawnChild(): number {
    const identity = this.identity(); // also checks the namespace exists before anything starts
    const [program, ...args] = identity.argv as [string, ...string[]];
    const [cmd, cmdArgs] =
      this.spec.netns === undefined
        ? [program, args]
        : [resolveProgram('nsenter', 'util-linux'), [`--net=${this.spec.netns}`, '--', program, ...args]];
    mkdirSync(this.spec.runDir, { recursive: true, mode: 0o750 });
    const fd = this.log.openForChild();
    let child: ChildProcess;
    try {
      child = spawn(cmd, cmdArgs, {
        detached: true, // own session: a weftd restart (or its terminal's SIGINT) does not take it down
        stdio: ['ignore', fd, fd],
        env: this.spec.env ?? { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
        ...(this.spec.cwd === undefined ? {} : { cwd: this.spec.cwd }),
      });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      child.on('error', () => undefined); // the spawn error is reported by the throw below
      throw new KernelError(`start ${this.spec.name}`, `could not spawn ${cmd}`);
    }
    child.unref();
    this.child = child;
    this.pidValue = pid;
    this.startTime = processStartTime(pid);
    child.once('exit', (code, signal) => this.onExit({ pid, code, signal, expected: this.stopRequested || this.killing === pid }));
    writeFileSync(`${this.pidFile}.tmp`, `${pid}\n`, { mode: 0o640 });
    renameSync(`${this.pidFile}.tmp`, this.pidFile);
    this.note(`started pid ${pid}: ${identity.argv.join(' ')}`);
    this.emit('started', { pid, adopted: false });
    return pid;
  }

  /** Spawn, then wait (bounded) for readiness; on failure the child is stopped and the error thrown. */
  private async spawnAndWait(): Promise<number> {
    this.setState('starting');
    let pid: number;
    try {
      pid = this.spawnChild();
    } catch (err) {
      this.setState('stopped');
      throw err;
    }
    this.startLogTimer();
    const t0 = Date.now();
    const limit = this.spec.readyTimeoutMs ?? 10_000;
    const ready = this.spec.ready;
    for (;;) {
      if (this.pidValue !== pid || !isAlive(pid, this.startTime)) {
        this.killing = pid; // reported here; its exit event must not schedule a restart of its own
        this.setState('stopped');
        throw new KernelError(`start ${this.spec.name}`, `exited before it was ready; log tail:\n${this.log.tail()}`);
      }
      if (this.stopRequested) throw new KernelError(`start ${this.spec.name}`, 'stopped while starting');
      if (ready === undefined || (await checkReady(ready))) break;
      if (Date.now() - t0 > limit) {
        const tail = this.log.tail();
        await this.terminate(pid);
        this.setState('stopped');
        throw new TimeoutError(`${this.spec.name} readiness (log tail: ${tail.trim() || 'empty'})`, limit);
      }
      await sleep(POLL_MS);
    }
    this.setState('running');
    this.emit('ready', { pid, ms: Date.now() - t0 });
    return pid;
  }

  /** Adopted processes are not our children: no exit event, so poll /proc. */
  private watchAdopted(): void {
    const pid = this.pidValue;
    const start = this.startTime;
    this.adoptedPoll = setInterval(() => {
      if (pid === undefined || isAlive(pid, start)) return;
      clearInterval(this.adoptedPoll);
      this.adoptedPoll = undefined;
      // An adopted process's exit status belongs to its real parent; we only know it is gone.
      this.onExit({ pid, code: null, signal: null, expected: this.stopRequested || this.killing === pid });
    }, ADOPTED_POLL_MS);
    this.adoptedPoll.unref();
  }

  private startLogTimer(): void {
    if (this.logTimer) return;
    this.logTimer = setInterval(() => {
      try {
        this.log.rotateIfFull();
      } catch (err) {
        // The log is a diagnostic; a failed rotation must not take the program down. Say so once per tick.
        process.emitWarning(`weft supervisor: rotating ${this.log.file}: ${(err as Error).message}`);
      }
    }, this.spec.logCheckMs ?? LOG_CHECK_MS);
    this.logTimer.unref();
  }

  private onExit(info: ExitInfo): void {
    if (info.pid !== this.pidValue) return;
    this.child = undefined;
    this.note(`pid ${info.pid} exited (code ${info.code ?? '-'}, signal ${info.signal ?? '-'}${info.expected ? ', requested' : ''})`);
    for (const w of this.exitWaiters.splice(0)) w();
    this.emit('exit', info);
    if (info.expected || this.stopRequested || this.stateValue === 'starting') return; // stop() or spawnAndWait reports it
    rmSync(this.pidFile, { force: true });
    this.scheduleRestart(info);
  }

  /** After an unexpected exit: restart with backoff, or give up past the cap. */
  private scheduleRestart(last: ExitInfo): void {
    if (!this.policy.enabled) {
      this.setState('failed');
      this.clearTimers();
      this.emit('gave-up', { restarts: 0, last });
      return;
    }
    const now = Date.now();
    this.restartTimes = this.restartTimes.filter((t) => now - t < this.policy.windowMs);
    if (this.restartTimes.length >= this.policy.maxRestarts) {
      this.setState('failed');
      this.clearTimers();
      this.note(`giving up after ${this.restartTimes.length} restarts within ${this.policy.windowMs} ms`);
      this.emit('gave-up', { restarts: this.restartTimes.length, last });
      return;
    }
    this.restartTimes.push(now);
    const attempt = this.restartTimes.length;
    const delayMs = Math.min(this.policy.initialDelayMs * 2 ** (attempt - 1), this.policy.maxDelayMs);
    this.setState('backoff');
    this.note(`restart ${attempt} in ${delayMs} ms`);
    this.emit('restarting', { attempt, delayMs });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopRequested) return;
      this.spawnAndWait().catch((err: unknown) => {
        if (this.stopRequested) return; // stop() won the race; nothing to report
        const error = err instanceof WeftError ? err : new KernelError(`restart ${this.spec.name}`, String(err), { cause: err });
        this.note(`restart ${attempt} failed: ${error.message}`);
        this.emit('restart-failed', { attempt, error });
        // A failed restart counts as another unexpected exit: round the backoff loop again.
        this.scheduleRestart({ pid: this.pidValue ?? -1, code: null, signal: null, expected: false });
      });
    }, delayMs);
    this.restartTimer.unref();
  }

  /** Wait until the current pid is gone, bounded; true if it went. */
  private async waitGone(pid: number, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    // Our own child also has to be reaped (its exit event seen), not just be a zombie.
    const gone = (): boolean => !isAlive(pid, this.startTime) && this.child?.pid !== pid;
    while (!gone()) {
      if (Date.now() > end) return false;
      await Promise.race([new Promise<void>((r) => this.exitWaiters.push(r)), sleep(POLL_MS)]);
    }
    return true;
  }

  /**
   * Stop: SIGTERM, then SIGKILL after the grace period. Only signals the pid after checking it
   * is still the process we started or adopted (same start time). Removes the pid file.
   */
  async stop(): Promise<void> {
    if (this.detached) return; // handed over to the next supervisor: not ours to stop any more
    this.stopRequested = true;
    this.clearTimers();
    const pid = this.pidValue;
    if (pid !== undefined) await this.terminate(pid);
    rmSync(this.pidFile, { force: true });
    this.pidValue = undefined;
    this.setState('stopped');
  }

  /** SIGTERM, grace, SIGKILL; the exit that follows is an expected one. */
  private async terminate(pid: number): Promise<void> {
    if (!isAlive(pid, this.startTime)) return;
    this.killing = pid;
    this.setState('stopping');
    this.signal(pid, 'SIGTERM');
    if (!(await this.waitGone(pid, this.spec.stopGraceMs ?? 5000))) {
      this.note(`pid ${pid} ignored SIGTERM; sending SIGKILL`);
      this.signal(pid, 'SIGKILL');
      if (!(await this.waitGone(pid, 5000))) throw new KernelError(`stop ${this.spec.name}`, `pid ${pid} survived SIGKILL`);
    }
  }

  private signal(pid: number, sig: NodeJS.Signals): void {
    if (!isAlive(pid, this.startTime)) return; // gone (or reused): never signal a stranger
    try {
      process.kill(pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw new KernelError(`kill ${pid}`, (err as Error).message, { cause: err });
    }
  }

  /** Stop watching but leave the program running with its pid file (weftd shutting down). */
  detach(): void {
    this.detached = true;
    this.stopRequested = true;
    this.clearTimers();
    this.child?.removeAllListeners('exit');
    this.child = undefined;
    this.setState('stopped');
  }

  private clearTimers(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.adoptedPoll) clearInterval(this.adoptedPoll);
    if (this.logTimer) clearInterval(this.logTimer);
    this.restartTimer = this.adoptedPoll = this.logTimer = undefined;
  }

  private setState(s: ProcessState): void {
    this.stateValue = s;
  }

  /** A supervisor line in the program's log, so the log tells the whole story. */
  private note(text: string): void {
    try {
      mkdirSync(this.spec.runDir, { recursive: true, mode: 0o750 });
      appendFileSync(this.log.file, `[weft-supervisor ${new Date().toISOString()}] ${this.spec.name}: ${text}\n`);
    } catch (err) {
      process.emitWarning(`weft supervisor: writing ${this.log.file}: ${(err as Error).message}`);
    }
  }
}

/** The registry of supervised programs of one weftd, by name. */
export class Supervisor {
  private readonly procs = new Map<string, SupervisedProcess>();

  /** Register a program (not started yet). Names are unique. */
  add(spec: ProgramSpec): SupervisedProcess {
    if (this.procs.has(spec.name))
      throw new WeftError('WEFT_CONFLICT', `a program named "${spec.name}" is already supervised`, { field: 'name' });
    const p = new SupervisedProcess(spec);
    this.procs.set(spec.name, p);
    return p;
  }

  get(name: string): SupervisedProcess | undefined {
    return this.procs.get(name);
  }

  list(): SupervisedProcess[] {
    return [...this.procs.values()];
  }

  /** Stop one program and forget it. */
  async remove(name: string): Promise<void> {
    const p = this.procs.get(name);
    if (!p) return;
    await p.stop();
    this.procs.delete(name);
  }

  /** Stop every program; every failure is reported together. */
  async stopAll(): Promise<void> {
    const results = await Promise.allSettled(this.list().map((p) => p.stop()));
    const errors = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    this.procs.clear();
    if (errors.length > 0) throw new AggregateError(errors, `stopping supervised programs: ${errors.length} failed`);
  }

  /** Leave every program running for the next weftd to adopt. */
  detachAll(): void {
    for (const p of this.procs.values()) p.detach();
    this.procs.clear();
  }
}
