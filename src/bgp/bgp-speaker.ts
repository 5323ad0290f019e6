/**
 * A host's BGP speaker: BIRD 2, configured from a BgpModel and supervised by weft.
 *
 * start: check the encapsulation, validate and render the model, have BIRD's parser check the
 * text, then start BIRD in the host's namespace through the supervisor — or adopt the BIRD a
 * previous weftd left running, and bring it up to date with `configure`.
 * apply: render again; if the text changed, let the running BIRD check the new file
 * (`configure check`), move it into place and `configure` — BIRD keeps running (same pid) and
 * keeps every session whose own options did not change.
 * A bad model throws before any file is written, so it never reaches BIRD.
 *
 * This module is the I/O side of src/bgp; the model, validation and rendering are pure.
 */
import { renameSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, KernelError, KernelUnsupportedError } from '../errors.js';
import { birdParseCheck, BirdConfigError, resolveBird, BIRD_PACKAGE } from '../kernel/bird-binary.js';
import { withBird, type BirdControl } from '../kernel/bird-control.js';
import type { BirdProtocol, BirdRoute } from '../kernel/bird-reply.js';
import { SupervisedProcess, type RestartPolicy, type Supervisor } from '../kernel/supervisor.js';
import { ipipState } from '../kernel/tunnel-support.js';
import type { BgpModel, NormalizedBgpModel } from './model.js';
import { renderNormalized } from './render.js';
import { bgpSessions, type BgpSession } from './sessions.js';
import { validateBgpModel } from './validate.js';

/** How packets between hosts travel: plain routed (BGP next hops) or Calico's IP-in-IP. */
export type Encapsulation = 'none' | 'ipip';

export interface BgpSpeakerOptions {
  /** Directory for bird.conf, the control socket, pid file and log. Absolute. */
  runDir: string;
  /** Network namespace BIRD runs in (weftd's host namespace); default weftd's own. */
  netns?: string;
  /** Supervisor name (default "bird"); also the pid and log file names. */
  name?: string;
  /** The bird executable (default "bird", from PATH or sbin). */
  birdProgram?: string;
  /** Register with this supervisor (default: a private SupervisedProcess). */
  supervisor?: Supervisor;
  encapsulation?: Encapsulation;
  readyTimeoutMs?: number;
  restart?: Partial<RestartPolicy>;
}

/** One BGP session as `weft bgp peers` shows it. */
export interface BgpPeerStatus {
  /** The BIRD protocol name. */
  protocol: string;
  peer: string;
  kind: 'host' | 'external';
  family: 4 | 6;
  neighborAddress: string;
  neighborAs: number;
  /** BGP FSM state: Idle, Connect, Active, OpenSent, OpenConfirm, Established. */
  state: string;
  established: boolean;
  /** When the protocol last changed state (BIRD's clock, its own format). */
  since: string;
  lastError?: string;
  routesImported?: number;
  routesExported?: number;
}

export type ApplyResult = 'unchanged' | 'reconfigured';

/** Refuse an encapsulation this kernel (or weft) cannot do, naming the missing piece. */
export function checkEncapsulation(enc: Encapsulation): void {
  if (enc === 'none') return;
  if (enc !== 'ipip') throw new InvalidArgumentError('encapsulation', `${JSON.stringify(enc)} must be "none" or "ipip"`);
  const state = ipipState();
  if (state === 'absent') {
    throw new KernelUnsupportedError(
      'ipip',
      'the kernel has no ipip module (no tunl0, nothing in /sys/module or the module index), so IP-in-IP encapsulation cannot run; use encapsulation "none" (routed, with BGP-speaking routers between L2 segments) or a VXLAN overlay',
    );
  }
  if (state === 'loadable') {
    throw new KernelUnsupportedError(
      'ipip',
      'the ipip module exists but is not loaded; load it with `modprobe ipip` (weft never loads modules: that adds tunl0 to every namespace)',
    );
  }
  throw new InvalidArgumentError(
    'encapsulation',
    'IP-in-IP routes are not rendered by weft yet (upstream BIRD 2 cannot point a BGP route at tunl0); use "none"',
  );
}

/** A running, supervised BIRD configured from a BgpModel. */
export class BgpSpeaker {
  readonly configFile: string;
  readonly socketPath: string;
  readonly process: SupervisedProcess;
  private model: NormalizedBgpModel;
  private sessions: BgpSession[];
  private text: string;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(opts: BgpSpeakerOptions, model: NormalizedBgpModel, text: string, birdPath: string) {
    const name = opts.name ?? 'bird';
    this.configFile = path.join(opts.runDir, `${name}.conf`);
    this.socketPath = path.join(opts.runDir, `${name}.ctl`);
    this.model = model;
    this.sessions = bgpSessions(model);
    this.text = text;
    const spec = {
      name,
      program: birdPath,
      packageName: BIRD_PACKAGE,
      // -f: stay in the foreground, so the pid the supervisor holds is BIRD's own.
      args: ['-f', '-c', this.configFile, '-s', this.socketPath],
      runDir: opts.runDir,
      ready: { socket: this.socketPath },
      readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
      ...(opts.netns === undefined ? {} : { netns: opts.netns }),
      ...(opts.restart === undefined ? {} : { restart: opts.restart }),
    };
    this.process = opts.supervisor ? opts.supervisor.add(spec) : new SupervisedProcess(spec);
  }

  /**
   * Validate, render and check the model, then start BIRD (or adopt a running one and apply
   * the model to it). Throws InvalidArgumentError for a bad model, MissingProgramError when
   * bird is not installed, KernelUnsupportedError for an encapsulation the kernel lacks.
   */
  static async start(model: BgpModel, opts: BgpSpeakerOptions): Promise<BgpSpeaker> {
    checkEncapsulation(opts.encapsulation ?? 'none');
    if (!path.isAbsolute(opts.runDir)) throw new InvalidArgumentError('runDir', `"${opts.runDir}" must be an absolute path`);
    const normalized = validateBgpModel(model);
    const text = renderNormalized(normalized);
    const birdPath = resolveBird(opts.birdProgram);
    mkdirSync(opts.runDir, { recursive: true, mode: 0o750 });
    const s = new BgpSpeaker(opts, normalized, text, birdPath);
    const staged = `${s.configFile}.new`;
    writeFileSync(staged, text, { mode: 0o640 });
    try {
      await birdParseCheck(staged, birdPath);
    } catch (err) {
      rmSync(staged, { force: true });
      throw err;
    }
    renameSync(staged, s.configFile);
    const { adopted } = await s.process.ensure();
    // An adopted BIRD may run an older file than the one just written (weftd died between
    // writing and configuring): configure is a no-op when nothing changed.
    if (adopted) await s.control((c) => c.configure());
    return s;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** The configuration text BIRD runs now. */
  get configText(): string {
    return this.text;
  }

  /** Run fn on a fresh control connection (BIRD may have been restarted since the last one). */
  control<T>(fn: (c: BirdControl) => Promise<T>): Promise<T> {
    return withBird(this.socketPath, fn);
  }

  /** Apply a changed model to the running BIRD without restarting it. Calls are serialized. */
  apply(model: BgpModel): Promise<ApplyResult> {
    const run = (): Promise<ApplyResult> => this.applyNow(model);
    const p = this.queue.then(run, run);
    // eslint-disable-next-line no-restricted-syntax -- callers get errors through `p`; the queue only orders
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async applyNow(model: BgpModel): Promise<ApplyResult> {
    const normalized = validateBgpModel(model); // a bad model stops here: nothing written
    const text = renderNormalized(normalized);
    if (text === this.text) return 'unchanged';
    if (this.process.state !== 'running') {
      throw new KernelError('bgp apply', `BIRD is not running (${this.process.state}); the model was not applied`);
    }
    const staged = `${this.configFile}.new`;
    writeFileSync(staged, text, { mode: 0o640 });
    try {
      await this.control((c) => c.checkConfig(staged));
    } catch (err) {
      rmSync(staged, { force: true });
      throw err instanceof KernelError ? new BirdConfigError(staged, err.message) : err;
    }
    const previous = readFileSync(this.configFile, 'utf8');
    renameSync(staged, this.configFile);
    try {
      await this.control((c) => c.configure());
    } catch (err) {
      // BIRD kept its old configuration: put the old file back so a restart loads what runs.
      writeFileSync(this.configFile, previous, { mode: 0o640 });
      throw err;
    }
    this.model = normalized;
    this.sessions = bgpSessions(normalized);
    this.text = text;
    return 'reconfigured';
  }

  /** BIRD's protocols (all details). */
  protocols(): Promise<BirdProtocol[]> {
    return this.control((c) => c.showProtocols({ all: true }));
  }

  /** Session states, one row per BGP session of the current model. */
  async peers(): Promise<BgpPeerStatus[]> {
    const byName = new Map((await this.protocols()).map((p) => [p.name, p]));
    return this.sessions.map((s) => {
      const p = byName.get(s.protocol);
      const ch = p?.channels.find((c) => c.name === `ipv${s.family}`);
      const state = p?.bgp?.state || 'Down'; // absent, or a disabled protocol with no BGP state
      const row: BgpPeerStatus = {
        protocol: s.protocol,
        peer: s.peerName,
        kind: s.kind,
        family: s.family,
        neighborAddress: s.neighborAddress,
        neighborAs: s.neighborAs,
        state,
        established: state === 'Established',
        since: p?.since ?? '',
      };
      if (p?.bgp?.lastError !== undefined) row.lastError = p.bgp.lastError;
      if (ch?.imported !== undefined) row.routesImported = ch.imported;
      if (ch?.exported !== undefined) row.routesExported = ch.exported;
      return row;
    });
  }

  /** BIRD's routes (diagnostics, tests). */
  routes(opts: { table?: string; protocol?: string; all?: boolean } = {}): Promise<BirdRoute[]> {
    return this.control((c) => c.showRoutes(opts));
  }

  /** The validated model BIRD runs now. */
  get current(): NormalizedBgpModel {
    return this.model;
  }

  /** Stop BIRD (SIGTERM: it withdraws its routes from peers and the kernel), then SIGKILL after a grace. */
  async stop(): Promise<void> {
    await this.process.stop();
  }

  /** Leave BIRD running for the next weftd to adopt (the dataplane outlives weftd). */
  detach(): void {
    this.process.detach();
  }
}
