/**
 * weftd's REST API (JSON over a unix socket that only root can use). Errors come back as
 * `{error: {code, message, field?}}` with an HTTP status derived from the code.
 */
import http from 'node:http';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Router } from './router.js';
import { markPhase } from '../../phase-trace.js';

export type { Router };
import type { Controller } from '../../controller/controller.js';
import { InvalidArgumentError, NotFoundError, asWeftError, httpStatusFor } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { parseFlag, parseRequestTarget } from './request-target.js';
import { parseGraceSeconds } from '../../controller/sandbox-stop.js';
import { assertNoReservedLabels } from '../../config/reserved-labels.js';
import { claimSocketPath, listenPrivate, releaseSocketPath } from '../unix-socket-path.js';

export const MAX_BODY = 1 << 20;

export function buildRoutes(c: Controller, extra: { info: () => unknown; doctor?: (repair: boolean) => Promise<unknown> }): Router {
  const r = new Router();
  r.on('GET', '/v1/info', async () => ({ body: extra.info() }));
  r.on('GET', '/v1/networks', async () => ({ body: await c.inspectNetworks() }));
  r.on('POST', '/v1/networks', async (_p, b) => {
    assertNoReservedLabels(b);
    const n = await c.createNetwork(b);
    return { status: 201, body: (await c.inspectNetworks([n.id]))[0] };
  });
  r.on('POST', '/v1/networks/prune', async () => ({ body: { removed: await c.pruneNetworks() } }));
  r.on('GET', '/v1/networks/:ref', async (p) => ({ body: (await c.inspectNetworks([p.ref!]))[0] }));
  r.on('DELETE', '/v1/networks/:ref', async (p) => {
    const n = await c.removeNetwork(p.ref!);
    return { body: { removed: n.name, id: n.id } };
  });
  r.on('POST', '/v1/networks/:ref/connect', async (p, b) => ({ status: 201, body: await c.connect(p.ref!, b) }));
  r.on('POST', '/v1/networks/:ref/disconnect', async (p, b) => {
    await c.disconnect(p.ref!, b);
    return { status: 204 };
  });
  r.on('GET', '/v1/sandboxes', async () => ({ body: await c.sandboxViews() }));
  r.on('POST', '/v1/sandboxes', async (_p, b) => {
    assertNoReservedLabels(b);
    return { status: 201, body: await c.createSandboxView(b) };
  });
  r.on('GET', '/v1/sandboxes/:ref', async (p) => ({ body: await c.sandboxView(p.ref!) }));
  r.on('PATCH', '/v1/sandboxes/:ref', async (p, b) => {
    const sb = await c.patchSandbox(p.ref!, b);
    return { body: await c.sandboxView(sb.id) };
  });
  r.on('POST', '/v1/sandboxes/:ref/labels', async (p, b) => {
    const sb = await c.labelSandbox(p.ref!, b);
    return { body: await c.sandboxView(sb.id) };
  });
  r.on('DELETE', '/v1/sandboxes/:ref', async (p, _b, q) => {
    const sb = await c.removeSandbox(p.ref!, { force: parseFlag(q.get('force'), 'force'), graceS: parseGraceSeconds(q.get('time')) });
    return { body: { removed: sb.name, id: sb.id } };
  });
  r.on('POST', '/v1/sandboxes/:ref/stop', async (p, _b, q) => {
    const { sandbox: sb, removed } = await c.stopSandbox(p.ref!, parseGraceSeconds(q.get('time')));
    return { body: { stopped: sb.name, id: sb.id, removed } };
  });
  if (extra.doctor) {
    const doctor = extra.doctor;
    r.on('GET', '/v1/doctor', async (_p, _b, q) => ({ body: await doctor(q.get('repair') === 'true') }));
  }
  return r;
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new InvalidArgumentError('body', `larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError('body', `malformed JSON: ${(err as Error).message}`);
  }
}

export interface RestServer {
  close(): Promise<void>;
}

/** The `name` member of a request body, for phase marks (a sandbox create names its sandbox). */
const nameIn = (body: unknown): string | undefined =>
  typeof body === 'object' && body !== null && typeof (body as { name?: unknown }).name === 'string'
    ? (body as { name: string }).name
    : undefined;

/** Serve the router on a unix socket readable and writable by root only. */
/**
 * Make the API socket's path ready to serve on: its directory, and no socket anyone still
 * serves on (a dead daemon's is removed; a live one, or a file that is not a socket, is
 * refused and left alone). weftd checks this before it touches the kernel, so a daemon that
 * could not serve never reconciles; serveRest checks again just before it listens.
 */
export async function prepareRestSocket(socketPath: string): Promise<void> {
  await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  await claimSocketPath(socketPath);
}

export async function serveRest(
  socketPath: string,
  router: Router,
  log: Logger,
  authorize: (req: http.IncomingMessage) => boolean,
  /** Told the code of every error reply (metrics count errors by code at this edge). */
  onError?: (code: string) => void,
): Promise<RestServer> {
  await prepareRestSocket(socketPath);
  const server = http.createServer((req, res) => {
    void (async () => {
      let status = 200;
      let payload: unknown;
      try {
        if (!authorize(req)) {
          status = 403;
          payload = { error: { code: 'WEFT_PERMISSION', message: 'only root may use the weft API' } };
        } else {
          const url = parseRequestTarget(req.url);
          const m = router.match(req.method ?? 'GET', url.pathname);
          if (!m) throw new NotFoundError('route', `${req.method} ${url.pathname}`);
          if ('allowed' in m) {
            status = 405;
            payload = {
              error: { code: 'WEFT_INVALID_ARGUMENT', message: `method ${req.method} not allowed (allowed: ${m.allowed.join(', ')})` },
            };
          } else {
            const body = await readBody(req);
            markPhase('rest.request', () => ({ method: req.method, path: url.pathname, name: nameIn(body) }));
            const out = await m.handler(m.params, body, url.searchParams);
            status = out.status ?? 200;
            payload = out.body;
          }
        }
      } catch (err) {
        const e = asWeftError(err);
        status = httpStatusFor(e.code);
        payload = { error: e.toJSON() };
        onError?.(e.code);
        if (status >= 500) log.error({ err: e.message, code: e.code, url: req.url }, 'request failed');
      }
      const text = payload === undefined ? '' : JSON.stringify(payload);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      markPhase('rest.reply', () => ({ method: req.method, path: req.url, status }));
    })();
  });
  server.keepAliveTimeout = 30_000;
  const ino = await listenPrivate(server, socketPath);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          releaseSocketPath(socketPath, ino);
          resolve();
        });
      }),
  };
}
