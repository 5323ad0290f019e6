/**
 * A client for BIRD's control socket (what birdc speaks): one connection, one command at a
 * time, every wait bounded. Replies are decoded by the pure functions in bird-reply.ts.
 *
 * `configure` applies a changed configuration file to the running daemon without restarting
 * it: BIRD keeps every protocol whose options did not change (BGP sessions stay up), reloads
 * channels whose filters changed (a BGP route refresh, not a session reset) and updates static
 * routes in place. `soft` skips the route reload on filter changes (new filters then apply to
 * new routes only), which is what a caller wants only when it knows the filters did not change.
 */
import net from 'node:net';
import { InvalidArgumentError, KernelError, TimeoutError } from '../errors.js';
import {
  BIRD_CONFIGURE_OK,
  BirdReplyReader,
  isBirdError,
  parseProtocols,
  parseRoutes,
  parseStatus,
  type BirdProtocol,
  type BirdReply,
  type BirdRoute,
  type BirdStatus,
} from './bird-reply.js';

/** BIRD answered with an error code (8xxx run-time, 9xxx syntax). */
export class BirdReplyError extends KernelError {
  readonly replyCode: number;
  constructor(command: string, reply: BirdReply) {
    const detail = reply.lines
      .filter((l) => isBirdError(l.code))
      .map((l) => l.text)
      .join('; ');
    super(`bird ${command}`, `${detail || reply.text} (reply ${String(reply.code).padStart(4, '0')})`);
    this.replyCode = reply.code;
  }
}

export interface ConfigureOptions {
  /** Configuration file to load (default: the one BIRD was started with). Absolute path. */
  file?: string;
  soft?: boolean;
}

export interface ShowRoutesOptions {
  table?: string;
  protocol?: string;
  /** Only this prefix ("for" lookup is not used: exact net). */
  prefix?: string;
  all?: boolean;
}

const SAFE_WORD = /^[A-Za-z0-9_.:/-]+$/;

function quotedPath(p: string): string {
  if (!p.startsWith('/') || /["\n\r\0]/.test(p))
    throw new InvalidArgumentError('file', `"${p}" must be an absolute path without quotes or newlines`);
  return `"${p}"`;
}

function word(field: string, v: string): string {
  if (!SAFE_WORD.test(v)) throw new InvalidArgumentError(field, `"${v}" is not a BIRD name or prefix`);
  return v;
}

export class BirdControl {
  private readonly reader = new BirdReplyReader();
  private waiting?: { resolve(r: BirdReply): void; reject(e: Error): void };
  private queue: Promise<unknown> = Promise.resolve();
  private closedError?: Error;

  private constructor(
    private readonly socket: net.Socket,
    readonly path: string,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      let replies: BirdReply[];
      try {
        replies = this.reader.push(chunk);
      } catch (err) {
        this.fail(new KernelError(`bird ${path}`, (err as Error).message, { cause: err }));
        return;
      }
      for (const r of replies) {
        const w = this.waiting;
        this.waiting = undefined;
        w?.resolve(r);
      }
    });
    socket.on('error', (err) => this.fail(new KernelError(`bird ${path}`, err.message, { cause: err })));
    socket.on('close', () => this.fail(new KernelError(`bird ${path}`, 'control connection closed')));
  }

  private fail(err: Error): void {
    this.closedError ??= err;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(err);
    this.socket.destroy();
  }

  /** Connect and read BIRD's greeting (code 0001), bounded. */
  static async connect(socketPath: string, opts: { timeoutMs?: number } = {}): Promise<BirdControl> {
    const ms = opts.timeoutMs ?? 5000;
    const socket = net.connect(socketPath);
    const c = new BirdControl(socket, socketPath);
    const greeting = await c.next(ms, `connect ${socketPath}`);
    if (greeting.code !== 1) {
      c.close();
      throw new KernelError(`bird ${socketPath}`, `unexpected greeting ${JSON.stringify(greeting.text)}`);
    }
    return c;
  }

  private next(ms: number, what: string): Promise<BirdReply> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise<BirdReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new TimeoutError(`bird ${what}`, ms));
      }, ms);
      this.waiting = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Run one command line; resolves with the reply, rejects with BirdReplyError on an error code. */
  command(line: string, opts: { timeoutMs?: number } = {}): Promise<BirdReply> {
    if (/[\n\r\0]/.test(line)) return Promise.reject(new InvalidArgumentError('command', 'must be one line'));
    const run = async (): Promise<BirdReply> => {
      const reply = this.next(opts.timeoutMs ?? 10_000, line);
      this.socket.write(`${line}\n`);
      const r = await reply;
      if (isBirdError(r.code)) throw new BirdReplyError(line, r);
      return r;
    };
    const p = this.queue.then(run, run);
    // eslint-disable-next-line no-restricted-syntax -- the caller gets the error through `p`; the queue only orders
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Check a configuration file with the running BIRD's parser, changing nothing. */
  async checkConfig(file: string): Promise<void> {
    const r = await this.command(`configure check ${quotedPath(file)}`);
    if (r.code !== 20) throw new BirdReplyError('configure check', r);
  }

  /** Apply a configuration file to the running daemon without restarting it. */
  async configure(opts: ConfigureOptions = {}): Promise<{ code: number; text: string }> {
    const cmd = ['configure', ...(opts.soft ? ['soft'] : []), ...(opts.file === undefined ? [] : [quotedPath(opts.file)])].join(' ');
    const r = await this.command(cmd, { timeoutMs: 30_000 });
    if (!BIRD_CONFIGURE_OK.has(r.code)) throw new BirdReplyError(cmd, r);
    return { code: r.code, text: r.text };
  }

  async showProtocols(opts: { all?: boolean; name?: string } = {}): Promise<BirdProtocol[]> {
    const parts = ['show protocols', ...(opts.all ? ['all'] : []), ...(opts.name === undefined ? [] : [word('name', opts.name)])];
    return parseProtocols(await this.command(parts.join(' ')));
  }

  async showRoutes(opts: ShowRoutesOptions = {}): Promise<BirdRoute[]> {
    const parts = ['show route'];
    if (opts.prefix !== undefined) parts.push(word('prefix', opts.prefix));
    if (opts.table !== undefined) parts.push('table', word('table', opts.table));
    if (opts.protocol !== undefined) parts.push('protocol', word('protocol', opts.protocol));
    if (opts.all) parts.push('all');
    return parseRoutes(await this.command(parts.join(' ')));
  }

  async showStatus(): Promise<BirdStatus> {
    return parseStatus(await this.command('show status'));
  }

  close(): void {
    this.closedError ??= new KernelError(`bird ${this.path}`, 'control connection closed');
    this.socket.destroy();
  }
}

/** Connect, run `fn`, always close. */
export async function withBird<T>(socketPath: string, fn: (c: BirdControl) => Promise<T>, opts: { timeoutMs?: number } = {}): Promise<T> {
  const c = await BirdControl.connect(socketPath, opts);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}
