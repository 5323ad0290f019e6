/**
 * The wire reference: a raw veth pair between two lab host namespaces, addresses on both
 * ends, nothing else — no daemon, no store, no encapsulation. Every cross-host design is
 * measured against this. Each endpoint is the host namespace itself, reached by its own
 * veth's address.
 */
import { mustRun, run } from '../../sim-host.js';
import { nsEndpoint, type CompareEndpoint, type DesignAdapter, type DesignContext, type Deployment } from '../design-adapter.js';
import { ErrorList } from '../../../errors.js';

/** Pair n uses a /30 in 198.19.100.0/22 and up (inside the lab's 198.18.0.0/15), and fd00:c0:n::1,2/64. */
const v4 = (n: number, side: 1 | 2) => `198.19.${100 + Math.floor(n / 64)}.${4 * (n % 64) + side}`;
const v6 = (n: number, side: 1 | 2) => `fd00:c0:${n}::${side}`;

export const vethBaseline: DesignAdapter = {
  name: 'veth',
  title: 'veth (wire reference)',
  model: 'raw veth pair between host namespaces (no network layer of its own)',
  sameHost: false,
  usesUnderlay: false,
  endpointIsHost: true,
  claims: { store: 'no', encryption: 'no', names: 'no' },
  async setup(ctx: DesignContext): Promise<Deployment> {
    const [ha, hb] = ctx.hosts;
    if (!ha || !hb) throw new Error('veth needs two lab hosts');
    const nsOf = (h: string) => ctx.lab.host(h).ns;
    const made: { ns: string; link: string; ids: string[] }[] = [];
    const linkName = (n: number, side: 'v' | 'w') => `${ctx.prefix}${side}${n}`;

    const pair = async (n: number, hostA: string, hostB: string): Promise<[CompareEndpoint, CompareEndpoint]> => {
      const [la, lb] = [linkName(n, 'v'), linkName(n, 'w')];
      const ids = n === 0 ? ['a', 'b'] : [`c${n}`, `c${n}-peer`];
      made.push({ ns: nsOf(hostA), link: la, ids });
      await mustRun('ip', ['-n', nsOf(hostA), 'link', 'add', la, 'type', 'veth', 'peer', 'name', lb, 'netns', nsOf(hostB)]);
      for (const [h, l, side] of [
        [hostA, la, 1],
        [hostB, lb, 2],
      ] as const) {
        // No DAD: the address is usable at once, as on a configured wire.
        await mustRun('nsenter', [`--net=/run/netns/${nsOf(h)}`, 'sysctl', '-qw', `net.ipv6.conf.${l}.accept_dad=0`]);
        await mustRun('ip', ['-n', nsOf(h), 'addr', 'add', `${v4(n, side)}/30`, 'dev', l]);
        await mustRun('ip', ['-n', nsOf(h), '-6', 'addr', 'add', `${v6(n, side)}/64`, 'dev', l, 'nodad']);
        await mustRun('ip', ['-n', nsOf(h), 'link', 'set', l, 'up']);
      }
      const ep = (h: string, side: 1 | 2, id: string): CompareEndpoint =>
        nsEndpoint({ id, host: h, address: v4(n, side), address6: v6(n, side), name: `${ctx.prefix}-${id}` }, [
          'nsenter',
          `--net=/run/netns/${nsOf(h)}`,
        ]);
      return [ep(hostA, 1, ids[0]!), ep(hostB, 2, ids[1]!)];
    };

    const [a, b] = await pair(0, ha, hb);
    return {
      endpoints: [a, b],
      // The new endpoint is a new wire from `host` to endpoint b's host; b reaches it over that wire.
      addEndpoint: async (host, n) => (await pair(n, host, hb))[0],
      removeEndpoint: async (ep) => {
        const m = made.find((x) => x.ids.includes(ep.id));
        if (!m) return; // never added here: nothing to remove
        await mustRun('ip', ['-n', m.ns, 'link', 'del', m.link]);
        made.splice(made.indexOf(m), 1);
      },
      capturePoints: [{ ns: nsOf(ha), ifname: linkName(0, 'v') }],
      controlPorts: { tcp: [], udp: [] },
      daemonPid: () => undefined,
      teardown: async () => {
        const errors = new ErrorList('veth teardown');
        for (const m of made.reverse()) {
          await errors.run(async () => {
            const r = await run('ip', ['-n', m.ns, 'link', 'del', m.link]);
            // Already gone (its namespace was removed, or its peer's) is what teardown wants.
            if (r.code !== 0 && !/Cannot find device|does not exist/.test(r.stderr))
              throw new Error(`ip link del ${m.link}: ${r.stderr.trim()}`);
          });
        }
        errors.throwIfAny();
      },
    };
  },
};
