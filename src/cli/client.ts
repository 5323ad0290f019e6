/**
 * HTTP/JSON client for weftd's unix socket. Errors come back as WeftError with the daemon's code.
 *
 * It speaks HTTP/1.1 over `node:net` itself (one request per connection, `Connection: close`)
 * rather than through `node:http`: loading and first use of node:http cost the CLI ≈ 30 ms of
 * its ≈ 130 ms start here (measured), more than weftd needs to answer.
 */
import net from 'node:net';
import { DaemonUnreachableError, InvalidArgumentError, PermissionError, TimeoutError, WeftError, type ErrorCode } from '../errors.js';
import { parseHttpResponse } from './http-response.js';
import { mark } from './trace.js';

export const DEFAULT_SOCKET = '/run/weft/weft.sock';

/**
 * The weftd socket from `-H`/`--host`, else `WEFT_HOST`, else the older `WEFT_SOCKET`, else the
 * default. Accepts Docker's `unix:///path` form and a bare absolute path.
 */
export function resolveHost(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const raw = flag ?? (env.WEFT_HOST || undefined) ?? (env.WEFT_SOCKET || undefined) ?? DEFAULT_SOCKET;
  const field = flag !== undefined ? 'host' : env.WEFT_HOST ? 'WEFT_HOST' : 'WEFT_SOCKET';
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(raw);
  if (m && m[1]!.toLowerCase() !== 'unix')
    throw new InvalidArgumentError(field, `"${raw}": weftd serves its API on a unix socket only (unix:///path)`);
  const p = m ? m[2]! : raw;
  if (!p.startsWith('/')) throw new InvalidArgumentError(field, `"${raw}" must be unix:///absolute/path or an absolute path`);
  return p;
}

export class WeftClient {
  constructor(
    readonly socketPath: string = resolveHost(undefined),
    private readonly timeoutMs = 60_000,
  ) {}

  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const head =
      `${method} ${path} HTTP/1.1\r\nHost: weftd\r\nConnection: close\r\n` +
      (payload ? `Content-Type: application/json\r\nContent-Length: ${payload.length}\r\n` : '') +
      '\r\n';
    mark(`${method}`);
    return new Promise<T>((resolve, reject) => {
      const sock = net.connect(this.socketPath);
      const chunks: Buffer[] = [];
      let settled = false;
      const done = (err: Error | undefined, value?: T): void => {
        if (settled) return;
        settled = true;
        sock.destroy();
        if (err) reject(err);
        else resolve(value as T);
      };
      sock.setTimeout(this.timeoutMs, () => done(new TimeoutError(`weftd at ${this.socketPath}: ${method} ${path}`, this.timeoutMs)));
      sock.on('connect', () => {
        sock.write(payload ? Buffer.concat([Buffer.from(head), payload]) : head);
      });
      sock.on('data', (c: Buffer) => chunks.push(c));
      sock.on('end', () => {
        mark('reply');
        try {
          done(undefined, this.decode<T>(Buffer.concat(chunks)));
        } catch (err) {
          done(err as Error);
        }
      });
      sock.on('error', (err: NodeJS.ErrnoException) => done(this.connectError(err)));
    });
  }

  private decode<T>(raw: Buffer): T {
    const res = parseHttpResponse(raw);
    let parsed: unknown;
    try {
      parsed = res.body.length ? JSON.parse(res.body.toString('utf8')) : undefined;
    } catch {
      throw new WeftError('WEFT_INTERNAL', `weftd sent a malformed reply (HTTP ${res.status})`);
    }
    if (res.status >= 400) {
      const e = (parsed as { error?: { code?: ErrorCode; message?: string; field?: string } } | undefined)?.error;
      throw new WeftError(e?.code ?? 'WEFT_INTERNAL', e?.message ?? `HTTP ${res.status}`, e?.field ? { field: e.field } : {});
    }
    return parsed as T;
  }

  private connectError(err: NodeJS.ErrnoException): WeftError {
    if (err.code === 'ENOENT')
      return new DaemonUnreachableError(this.socketPath, 'no such socket (is weftd running? see -H / WEFT_HOST)', err);
    if (err.code === 'ECONNREFUSED') return new DaemonUnreachableError(this.socketPath, 'connection refused (weftd is not listening)', err);
    if (err.code === 'ENOTSOCK' || err.code === 'ENOTDIR') return new DaemonUnreachableError(this.socketPath, 'not a unix socket', err);
    if (err.code === 'EACCES' || err.code === 'EPERM')
      return new PermissionError(`permission denied on ${this.socketPath}: the weft API is for root only`);
    if (err.code === 'EPIPE' || err.code === 'ECONNRESET')
      return new DaemonUnreachableError(this.socketPath, `connection closed by weftd (${err.code})`, err);
    return new WeftError('WEFT_INTERNAL', `weftd at ${this.socketPath}: ${err.message}`, { cause: err });
  }

  /** Nothing to release (one connection per request); kept so callers can close uniformly. */
  close(): void {}
}
