/**
 * The anchor of the routed designs: a namespace behind a veth on each of two lab hosts and a
 * route on each host to the other's /24 via its underlay address — host-gw's and routed's path
 * without weft (and without a bridge), made by hand with `ip`.
 */
import { mustRun } from '../src/lab/sim-host.js';

export interface VethRoutingHost {
  ns: string;
  address: string;
}

/**
 * Make the pair: namespace `pods[k]` behind veth `link` on `hosts[k]`, addressed
 * `<prefix>.<k+1>.2/24` with the host end `.1`. The caller deletes the namespaces (it records
 * them before this runs); the returned function removes the host ends and routes.
 */
export async function handMadeVethRouting(
  hosts: readonly [VethRoutingHost, VethRoutingHost],
  pods: readonly [string, string],
  link: string,
  prefix: string,
): Promise<() => Promise<void>> {
  for (const [k, h] of hosts.entries()) {
    const p = pods[k]!;
    const other = hosts[1 - k]!;
    await mustRun('ip', ['netns', 'add', p]);
    await mustRun('ip', ['-n', p, 'link', 'set', 'lo', 'up']);
    await mustRun('ip', ['-n', h.ns, 'link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p]);
    await mustRun('ip', ['-n', h.ns, 'addr', 'add', `${prefix}.${k + 1}.1/24`, 'dev', link]);
    await mustRun('ip', ['-n', h.ns, 'link', 'set', link, 'up']);
    await mustRun('ip', ['-n', p, 'addr', 'add', `${prefix}.${k + 1}.2/24`, 'dev', 'eth0']);
    await mustRun('ip', ['-n', p, 'link', 'set', 'eth0', 'up']);
    await mustRun('ip', ['-n', p, 'route', 'add', 'default', 'via', `${prefix}.${k + 1}.1`]);
    await mustRun('ip', ['-n', h.ns, 'route', 'add', `${prefix}.${2 - k}.0/24`, 'via', other.address]);
    await mustRun('ip', ['netns', 'exec', h.ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  }
  return async () => {
    for (const [k, h] of hosts.entries()) {
      await mustRun('ip', ['-n', h.ns, 'route', 'del', `${prefix}.${2 - k}.0/24`]);
      await mustRun('ip', ['-n', h.ns, 'link', 'del', link]);
    }
  };
}
