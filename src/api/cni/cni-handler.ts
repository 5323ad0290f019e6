/**
 * One CNI invocation, start to finish, on a controller (weftd's, or an in-process engine's):
 * parse, dispatch the verb to the plugin's implementation, and produce exactly what the plugin
 * executable must print and its exit code. Never throws: every failure is CNI error JSON.
 */
import type { Controller } from '../../controller/controller.js';
import { CNI_CODES, CniError, toCniError } from './cni-errors.js';
import { errorVersionOf, parseRequest, type CniRequest } from './cni-request.js';
import { formatResult, type CniResult } from './cni-result.js';
import { atLeast, isSupported, versionInfo, SUPPORTED_VERSIONS } from './cni-versions.js';
import { weftAdd, weftCheck, weftDel, weftGc } from './cni-weft-plugin.js';
import { containerLockOf } from './cni-identity.js';
import { ipamAdd, ipamCheck, ipamDel, ipamGc } from './cni-ipam-plugin.js';

export const PLUGINS = ['weft', 'weft-ipam'] as const;
export type PluginName = (typeof PLUGINS)[number];

/** What the executable prints on stdout (undefined = nothing) and its exit code. */
export interface CniReply {
  exitCode: number;
  output?: Record<string, unknown>;
}

/** Where the controller comes from: weftd has one; the fallback opens an engine on demand. */
export type ControllerSource = () => Promise<Controller>;

interface Verbs {
  add(c: Controller, r: CniRequest): Promise<CniResult>;
  del(c: Controller, r: CniRequest): Promise<void>;
  check(c: Controller, r: CniRequest): Promise<void>;
  gc(c: Controller, r: CniRequest): Promise<void>;
}

const VERBS: Record<PluginName, Verbs> = {
  weft: { add: weftAdd, del: weftDel, check: weftCheck, gc: weftGc },
  'weft-ipam': { add: ipamAdd, del: ipamDel, check: ipamCheck, gc: ipamGc },
};

/** STATUS: weft can take ADDs when its store answers. */
async function status(getController: ControllerSource): Promise<void> {
  try {
    const c = await getController();
    await c.ping();
  } catch (err) {
    throw new CniError(CNI_CODES.pluginNotAvailable, 'plugin not available', `weft's store cannot be reached: ${(err as Error).message}`);
  }
}

function version(stdin: string): CniReply {
  // A config given to VERSION names the version the caller speaks; refuse one we do not.
  if (stdin.trim() !== '') {
    let v: unknown;
    try {
      v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    } catch {
      v = undefined;
    }
    if (v !== undefined && v !== '' && !isSupported(v)) {
      return {
        exitCode: 1,
        output: new CniError(
          CNI_CODES.incompatibleVersion,
          'incompatible CNI versions',
          `config is ${JSON.stringify(v)}, plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`,
        ).toJSON(errorVersionOf(stdin)),
      };
    }
  }
  return { exitCode: 0, output: versionInfo() };
}

export async function handleCni(
  plugin: string,
  env: Record<string, string | undefined>,
  stdin: string,
  getController: ControllerSource,
): Promise<CniReply> {
  try {
    if (!(PLUGINS as readonly string[]).includes(plugin))
      throw new CniError(CNI_CODES.invalidConfig, `unknown weft plugin "${plugin}"`, `known: ${PLUGINS.join(', ')}`);
    if (env.CNI_COMMAND === 'VERSION') return version(stdin);
    const req = parseRequest(env, stdin);
    const verbs = VERBS[plugin as PluginName];
    /**
     * ADD, DEL and CHECK of one container run one at a time (in this process and against the
     * in-process fallback): a concurrent ADD waits for the creating one and then reports the
     * complete attachment, never a half-made one.
     */
    const serialized = async <T>(fn: (c: Controller) => Promise<T>): Promise<T> => {
      const c = await getController();
      return c.serialized(containerLockOf(req.containerId), () => fn(c));
    };
    switch (req.command) {
      case 'ADD': {
        const result = await serialized((c) => verbs.add(c, req));
        return { exitCode: 0, output: formatResult(result, req.conf.cniVersion) };
      }
      case 'DEL':
        await serialized((c) => verbs.del(c, req));
        return { exitCode: 0 };
      case 'CHECK':
        await serialized((c) => verbs.check(c, req));
        return { exitCode: 0 };
      case 'GC':
        await verbs.gc(await getController(), req);
        return { exitCode: 0 };
      case 'STATUS':
        if (!atLeast(req.conf.cniVersion, '1.1.0'))
          throw new CniError(CNI_CODES.incompatibleVersion, 'config version does not allow STATUS', `cniVersion ${req.conf.cniVersion}`);
        await status(getController);
        return { exitCode: 0 };
      default:
        throw new CniError(CNI_CODES.invalidEnv, `unknown CNI_COMMAND ${JSON.stringify(req.command)}`);
    }
  } catch (err) {
    return { exitCode: 1, output: toCniError(err).toJSON(errorVersionOf(stdin)) };
  }
}
