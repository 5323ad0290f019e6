/**
 * The Docker plugin socket: HTTP over a unix socket, one POST per method (/Plugin.Activate,
 * /NetworkDriver.*, /IpamDriver.*). Requests are handled one at a time, because Docker may
 * fire overlapping calls for one container and each one reads then writes several records.
 */
import http from 'node:http';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { pluginError, type PluginApi } from './plugin-errors.js';
import { claimSocketPath, listenPrivate, releaseSocketPath } from '../unix-socket-path.js';

const MAX_BODY = 1 << 20;
const CONTENT_TYPE = 'application/vnd.docker.plugins.v1.2+json';

/** A handler may answer at once or with a promise (awaited either way). */
export type PluginHandler = (body: Record<string, unknown>) => unknown;

export interface PluginServer {
  path: string;
  close(): Promise<void>;
}

const apiOf = (method: string): PluginApi =>
  method.startsWith('IpamDriver.') ? 'ipam' : method.startsWith('NetworkDriver.') ? 'network' : 'plugin';

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new InvalidArgumentError('body', `larger than ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Parse a plugin request body: empty means {}, anything but a JSON object is refused. */
export function parsePluginBody(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError('body', `malformed JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError('body', 'must be a JSON object');
  return v as Record<string, unknown>;
}

/** Serve handlers (by method name, e.g. "NetworkDriver.Join") on a unix socket. */
export async function servePlugin(socketPath: string, handlers: Map<string, PluginHandler>, log: Logger): Promise<PluginServer> {
  await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  await claimSocketPath(socketPath, 'docker-plugin-socket');
  let queue: Promise<unknown> = Promise.resolve();
  const server = http.createServer((req, res) => {
    const method = (req.url ?? '/').split('?')[0]!.replace(/^\//, '');
    const reply = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const work = async (): Promise<void> => {
      try {
        if (req.method !== 'POST') throw new InvalidArgumentError('method', `${req.method} is not POST`);
        const h = handlers.get(method);
        if (!h) throw new NotFoundError('plugin method', method);
        const body = parsePluginBody(await readBody(req));
        const out = await h(body);
        reply(200, out ?? {});
      } catch (err) {
        const e = pluginError(apiOf(method), err);
        log.warn({ method, err: e.body.Err }, 'docker plugin request failed');
        reply(e.status, e.body);
      }
    };
    queue = queue.then(work, work);
  });
  const ino = await listenPrivate(server, socketPath);
  return {
    path: socketPath,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      // Only our own socket: another daemon may hold the path by now.
      releaseSocketPath(socketPath, ino);
    },
  };
}
