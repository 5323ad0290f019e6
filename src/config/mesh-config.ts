/** weftd's mesh flags (--mesh and --mesh-*), checked before anything starts. Pure. */
import path from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { parseCidr } from '../ipam/cidr.js';
import { parseHostPort } from '../mesh/router/options.js';
import { checkPeerName } from '../mesh/crypto/handshake.js';

export interface MeshConfig {
  /** This peer's name (default: the host name). */
  name: string;
  /** IP to listen on (default: the underlay address, as for --advertise-addr). */
  listenIp?: string;
  port: number;
  /** Peers to connect to, "ip:port". */
  peers: string[];
  /** The shared secret's file (read at start; unset = no encryption, as Weave). */
  passwordFile?: string;
  /** The range the ring splits: every mesh network's subnet (Weave's --ipalloc-range). */
  range: string;
  /** How the ring starts: seed (every peer given the same names), claim (all ours), join (wait for peers). */
  ipalloc: { init: 'seed'; peers: string[] } | { init: 'claim' } | { init: 'join' };
  /** Faster failure detection for labs: probe interval in ms (memberlist's LAN default is 1000). */
  probeMs?: number;
  /** Weave's --no-fastdp: keep every peer on the sleeve (benchmarks, underlays that drop VXLAN). */
  noFastPath?: boolean;
}

export interface MeshFlags {
  mesh?: boolean;
  meshPeer?: string[];
  meshPort?: string;
  meshListen?: string;
  meshName?: string;
  meshPasswordFile?: string;
  meshRange?: string;
  meshIpallocInit?: string;
  meshProbeMs?: string;
  meshNoFastpath?: boolean;
}

export const MESH_DEFAULT_PORT = 6783;
export const MESH_DEFAULT_RANGE = '10.32.0.0/12';

/** The mesh flags; any --mesh-* flag turns the mesh on, as --mesh does. */
export function meshFromFlags(f: MeshFlags, hostName: string): MeshConfig | undefined {
  const given = f.mesh === true || Object.entries(f).some(([k, v]) => k.startsWith('mesh') && k !== 'mesh' && v !== undefined);
  if (!given) return undefined;
  const port = f.meshPort === undefined ? MESH_DEFAULT_PORT : Number(f.meshPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError('mesh-port', 'must be a port number');
  const peers = (f.meshPeer ?? [])
    .flatMap((p) => p.split(','))
    .map((p) => {
      const withPort = /:\d+$/.test(p) ? p : `${p}:${MESH_DEFAULT_PORT}`;
      const hp = parseHostPort(withPort, 'mesh-peer');
      return `${hp.ip}:${hp.port}`;
    });
  if (f.meshListen !== undefined) parseHostPort(`${f.meshListen}:${port}`, 'mesh-listen');
  const range = f.meshRange ?? MESH_DEFAULT_RANGE;
  const c = parseCidr(range, 'mesh-range');
  if (c.family !== 4 || c.prefix > 28 || c.host !== c.network)
    throw new InvalidArgumentError('mesh-range', 'must be an IPv4 network (no host bits) of /28 or larger');
  const name = checkPeerName(f.meshName ?? hostName);
  let passwordFile: string | undefined;
  if (f.meshPasswordFile !== undefined) {
    passwordFile = path.resolve(f.meshPasswordFile); // read (and its mode checked) when the mesh starts, before the engine
  }
  let probeMs: number | undefined;
  if (f.meshProbeMs !== undefined) {
    probeMs = Number(f.meshProbeMs);
    if (!Number.isInteger(probeMs) || probeMs < 100 || probeMs > 60_000)
      throw new InvalidArgumentError('mesh-probe-ms', 'must be 100…60000');
  }
  return {
    name,
    ...(f.meshListen !== undefined ? { listenIp: f.meshListen } : {}),
    port,
    peers,
    ...(passwordFile ? { passwordFile } : {}),
    range,
    ipalloc: parseIpalloc(f.meshIpallocInit, peers.length),
    ...(probeMs ? { probeMs } : {}),
    ...(f.meshNoFastpath ? { noFastPath: true } : {}),
  };
}

/** seed=NAME,NAME… | claim | join; default: claim when no peers are given (the first peer), else join. */
function parseIpalloc(v: string | undefined, peers: number): MeshConfig['ipalloc'] {
  if (v === undefined) return peers === 0 ? { init: 'claim' } : { init: 'join' };
  if (v === 'claim' || v === 'join') return { init: v };
  const m = /^seed=(.+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('mesh-ipalloc-init', 'must be seed=NAME[,NAME…], claim or join');
  return { init: 'seed', peers: m[1]!.split(',').map((n) => checkPeerName(n)) };
}
