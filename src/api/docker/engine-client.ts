/**
 * A minimal client of a container engine's API (Docker's, which podman also serves): plain
 * HTTP over its unix socket with node:http, no docker CLI. Only what attachments need:
 * inspect a container, and follow container events.
 */
import http from 'node:http';
import { NotFoundError, TimeoutError, WeftError } from '../../errors.js';

export interface ContainerInfo {
  id: string;
  name: string;
  running: boolean;
  pid: number;
}

export interface ContainerEvent {
  action: string;
  id: string;
}

/** "unix:///run/docker.sock" or a plain path → the socket path. */
export function enginePath(host: string): string {
  const p = host.startsWith('unix://') ? host.slice('unix://'.length) : host;
  if (!p.startsWith('/'))
    throw new WeftError('WEFT_INVALID_ARGUMENT', `engine host "${host}" must be unix:///absolute/path`, { field: 'docker-host' });
  return p;
}

export class EngineClient {
  constructor(readonly socketPath: string) {}

  private request(method: string, urlPath: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { socketPath: this.socketPath, method, path: urlPath, headers: { host: 'engine' }, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new TimeoutError(`engine ${method} ${urlPath}`, timeoutMs)));
      req.on('error', (err) =>
        reject(new WeftError('WEFT_INTERNAL', `container engine at ${this.socketPath}: ${err.message}`, { cause: err })),
      );
      req.end();
    });
  }

  /** Inspect a container by name or id; NotFoundError if the engine does not know it. */
  async inspect(ref: string): Promise<ContainerInfo> {
    const r = await this.request('GET', `/containers/${encodeURIComponent(ref)}/json`);
    if (r.status === 404) throw new NotFoundError('container', ref);
    if (r.status !== 200) throw new WeftError('WEFT_INTERNAL', `container engine: inspect ${ref} → ${r.status} ${r.body.trim()}`);
    const j = JSON.parse(r.body) as { Id: string; Name: string; State: { Running: boolean; Pid: number } };
    return { id: j.Id, name: j.Name.replace(/^\//, ''), running: j.State.Running, pid: j.State.Pid };
  }

  /** A network's name as Docker knows it, or undefined while Docker does not (yet) have it. */
  async networkName(id: string): Promise<string | undefined> {
    const r = await this.request('GET', `/networks/${encodeURIComponent(id)}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new WeftError('WEFT_INTERNAL', `container engine: network ${id} → ${r.status} ${r.body.trim()}`);
    return (JSON.parse(r.body) as { Name?: string }).Name;
  }

  /**
   * Follow container events until stop() is called or the stream ends (the returned promise
   * then resolves; the caller reconnects). Events are newline-separated JSON objects.
   */
  follow(onEvent: (e: ContainerEvent) => void): { done: Promise<void>; stop(): void } {
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'] }));
    let req: http.ClientRequest | undefined;
    const done = new Promise<void>((resolve) => {
      req = http.request(
        { socketPath: this.socketPath, method: 'GET', path: `/events?filters=${filters}`, headers: { host: 'engine' } },
        (res) => {
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            buf += c;
            for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
              const line = buf.slice(0, i).trim();
              buf = buf.slice(i + 1);
              if (!line) continue;
              try {
                const j = JSON.parse(line) as { Action?: string; status?: string; id?: string; Actor?: { ID?: string } };
                const id = j.Actor?.ID ?? j.id;
                const action = j.Action ?? j.status;
                if (id && action) onEvent({ id, action });
              } catch {
                /* a line we do not understand is skipped */
              }
            }
          });
          res.on('end', () => resolve());
          res.on('error', () => resolve());
          res.on('close', () => resolve());
        },
      );
      req.on('error', () => resolve());
      req.end();
    });
    return { done, stop: () => req?.destroy() };
  }
}
