/**
 * Cost of publishing a port as the number of published ports grows: the 1st vs the 1000th
 * (target: within 2×). Each publication is one atomic nft transaction adding map elements, so
 * the cost should not grow with the ruleset. Runs in its own namespace.
 *   node dist/bench/ports.js [--ports 1000]
 */
import { randomBytes } from 'node:crypto';
import { NftFirewall } from '../src/firewall/nft-firewall.js';
import { mustRun, run } from '../src/lab/sim-host.js';
import { summarize, printTable } from './stats.js';

const i = process.argv.indexOf('--ports');
const N = i >= 0 ? Number(process.argv[i + 1]) : 1000;
const ns = `weft-bench-ports-${randomBytes(3).toString('hex')}`;

await mustRun('ip', ['netns', 'add', ns]);
try {
  await mustRun('ip', ['-n', ns, 'link', 'add', 'wfbench', 'type', 'bridge']);
  const fw = new NftFirewall({ netnsPath: `/run/netns/${ns}` });
  const net = {
    id: 'b'.repeat(64),
    bridge: 'wfbench',
    subnets4: ['10.200.0.0/16'],
    subnets6: [],
    internal: false,
    icc: true,
    masquerade: true,
  };
  await fw.init({ networks: [net], ports: [] });
  const times: number[] = [];
  for (let k = 0; k < N; k++) {
    const t0 = performance.now();
    await fw.addPorts([
      {
        networkId: net.id,
        protocol: 'tcp',
        hostPort: 20000 + k,
        containerIp: `10.200.${(k + 2) >> 8}.${(k + 2) & 255}`,
        containerPort: 80,
      },
    ]);
    times.push(performance.now() - t0);
  }
  const first = summarize(times.slice(0, 10));
  const last = summarize(times.slice(-10));
  const check = await fw.check();
  printTable(
    ['ports', 'publish #1 (ms)', `publish #${N} (ms)`, 'first 10 p50', 'last 10 p50', 'ratio last/first (p50)', 'ruleset ok'],
    [[N, times[0]!, times[N - 1]!, first.p50, last.p50, last.p50 / first.p50, String(check.ok)]],
  );
} finally {
  await run('ip', ['netns', 'del', ns]);
}
