/** weftd's mesh routes: GET /v1/mesh, POST /v1/mesh/connect {address}, POST /v1/mesh/forget {peer} (`weft mesh …`). */
import { z } from 'zod';
import type { MeshConfig } from '../config/mesh-config.js';
import type { DaemonMesh } from '../mesh/mesh-host.js';
import type { MeshRouter } from '../mesh/router/mesh-router.js';
import { InvalidArgumentError } from '../errors.js';
import type { Router } from '../api/rest/rest-server.js';

const ConnectBody = z.object({ address: z.string() }).strict();
const ForgetBody = z.object({ peer: z.string() }).strict();

/** The routes, or a clear refusal on a weftd without --mesh. */
export function registerMeshRoutes(routes: Router, mesh: DaemonMesh | undefined, mc: MeshConfig | undefined): void {
  const need = (): MeshRouter => {
    if (!mesh) throw new InvalidArgumentError('mesh', 'this weftd runs no mesh (start it with --mesh or --mesh-peer IP)');
    return mesh.router;
  };
  const parse = <T>(schema: z.ZodType<T>, b: unknown): T => {
    const r = schema.safeParse(b ?? {});
    if (!r.success)
      throw new InvalidArgumentError('body', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    return r.data;
  };
  routes.on('GET', '/v1/mesh', async () => ({ body: need().status() }));
  routes.on('POST', '/v1/mesh/connect', async (_p, b) => {
    const { address } = parse(ConnectBody, b);
    const addr = /:\d+$/.test(address) ? address : `${address}:${mc?.port ?? 6783}`;
    need().connect(addr);
    return { body: { connecting: addr } };
  });
  routes.on('POST', '/v1/mesh/forget', async (_p, b) => ({ body: need().forget(parse(ForgetBody, b).peer) }));
}
