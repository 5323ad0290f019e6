/**
 * One lab for every design: the hosts, their namespaces, underlay and etcd stay; only each
 * host's weftd is restarted (same state and run directories) when the next design needs other
 * flags — BGP for routed-bgp, a store-less mesh for mesh, a password for mesh:encrypted.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterLab } from '../cluster-lab.js';
import type { WeftdMode } from './design-adapter.js';
import { startWeftd } from './measure-failure.js';

/** The weftd flags of a mode on one host (pure). */
export function modeArgs(mode: WeftdMode, host: string, hosts: { name: string; address: string }[], passwordFile: string): string[] {
  const me = hosts.find((h) => h.name === host)!;
  return [
    ...(mode.bgp ? ['--bgp', '--policy'] : []),
    ...(mode.mesh
      ? [
          '--mesh-name',
          me.name,
          '--mesh-listen',
          me.address,
          '--mesh-ipalloc-init',
          `seed=${hosts.map((h) => h.name).join(',')}`,
          ...hosts.filter((h) => h.name !== host).flatMap((h) => ['--mesh-peer', h.address]),
          ...(mode.mesh === 'encrypted' ? ['--mesh-password-file', passwordFile] : []),
        ]
      : []),
  ];
}

export const modeKey = (m: WeftdMode | undefined): string =>
  m ? `${m.store ? 'store' : 'nostore'}${m.bgp ? '+bgp' : ''}${m.mesh ? `+mesh-${m.mesh}` : ''}` : 'none';

/** The mode the lab starts in (what ClusterLab.up gives: weftd on the store, nothing else). */
export const BASE_MODE: WeftdMode = { store: true };

/** Restart every host's weftd in `mode` (in parallel: each is its own process); returns the ms it took. */
export async function switchMode(lab: ClusterLab, hosts: string[], base: string[], mode: WeftdMode): Promise<number> {
  const t0 = Date.now();
  const passwordFile = path.join(lab.state.dir, 'mesh-password');
  if (mode.mesh === 'encrypted') writeFileSync(passwordFile, `weft compare ${lab.state.name} mesh secret\n`, { mode: 0o600 });
  const addrs = hosts.map((h) => ({ name: h, address: lab.host(h).address }));
  for (const h of hosts) await lab.kill(h);
  for (const h of hosts) {
    const st = lab.host(h);
    st.args = [...base, ...modeArgs(mode, h, addrs, passwordFile)];
    st.noStore = !mode.store;
  }
  await Promise.all(hosts.map((h) => startWeftd(lab, h)));
  return Date.now() - t0;
}
