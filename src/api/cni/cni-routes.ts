/**
 * `POST /v1/cni` on weftd's API: the compiled plugin executable forwards one invocation (its
 * CNI_* environment and stdin) and prints the reply. The reply is always HTTP 200 with
 * `{"exitCode":N,"output":{…}}` in that key order — the shim relies on that framing to print
 * `output` verbatim without a JSON parser; any other status means "not a CNI answer".
 */
import type { Router } from '../rest/router.js';
import type { Controller } from '../../controller/controller.js';
import { InvalidArgumentError } from '../../errors.js';
import { handleCni } from './cni-handler.js';

interface CniCall {
  plugin: string;
  env: Record<string, string>;
  stdin: string;
}

function parseCall(body: unknown): CniCall {
  const b = body as Partial<CniCall> | undefined;
  if (!b || typeof b.plugin !== 'string' || typeof b.stdin !== 'string' || typeof b.env !== 'object' || b.env === null) {
    throw new InvalidArgumentError('body', 'expected {plugin, env, stdin}');
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.env)) if (k.startsWith('CNI_') && typeof v === 'string') env[k] = v;
  return { plugin: b.plugin, env, stdin: b.stdin };
}

/** Register the CNI endpoint on weftd's router. */
export function registerCniRoutes(router: Router, controller: Controller): void {
  router.on('POST', '/v1/cni', async (_p, body) => {
    const call = parseCall(body);
    const reply = await handleCni(call.plugin, call.env, call.stdin, async () => controller);
    return {
      status: 200,
      body: reply.output === undefined ? { exitCode: reply.exitCode } : { exitCode: reply.exitCode, output: reply.output },
    };
  });
}
