/** HTTP/JSON client for weftd's unix socket. Errors come back as WeftError with the daemon's code. */
import http from 'node:http';
import { WeftError, type ErrorCode } from '../errors.js';

export const DEFAULT_SOCKET = '/run/weft/weft.sock';

export class WeftClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  constructor(
    readonly socketPath: string = process.env.WEFT_SOCKET ?? DEFAULT_SOCKET,
    private readonly timeoutMs = 60_000,
  ) {}

  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          method,
          path,
          agent: this.agent,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              reject(new WeftError('WEFT_INTERNAL', `weftd sent a malformed reply (${res.statusCode})`));
              return;
            }
            if ((res.statusCode ?? 500) >= 400) {
              const e = (parsed as { error?: { code?: ErrorCode; message?: string; field?: string } })?.error;
              reject(new WeftError(e?.code ?? 'WEFT_INTERNAL', e?.message ?? `HTTP ${res.statusCode}`, e?.field ? { field: e.field } : {}));
            } else resolve(parsed as T);
          });
        },
      );
      req.on('timeout', () => req.destroy(new WeftError('WEFT_TIMEOUT', `weftd did not answer within ${this.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof WeftError) reject(err);
        else if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
          reject(new WeftError('WEFT_NOT_FOUND', `cannot reach weftd at ${this.socketPath} (is it running?)`));
        else if (err.code === 'EACCES')
          reject(new WeftError('WEFT_PERMISSION', `permission denied on ${this.socketPath}: the weft API is for root only`));
        else reject(new WeftError('WEFT_INTERNAL', err.message, { cause: err }));
      });
      if (payload) req.write(payload);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
