/**
 * `docker run --rm` on a weft network (weft as Docker's network + IPAM plugin) against Docker's
 * own bridge network and `--network none`, side by side in one run against one real dockerd in
 * a fake host namespace. Runs are interleaved (none, bridge, weft, none, …) so drift in the
 * machine's load hits all three alike.
 *   node dist/bench/docker.js [--runs 20]
 */
import { SimHost } from '../src/lab/sim-host.js';
import { DockerLab } from '../src/lab/docker-lab.js';
import { printTable, summarize } from './stats.js';

const args = process.argv.slice(2);
const i = args.indexOf('--runs');
const RUNS = i >= 0 ? Number(args[i + 1]) : 20;

async function main(): Promise<void> {
  const h = await SimHost.create('dkbench');
  const dk = new DockerLab(h);
  try {
    await h.start(dk.weftdArgs);
    await dk.start();
    const image = await dk.importBusybox();
    await dk.dockerOk(['network', 'create', '--subnet', '10.97.0.0/16', 'dockerbr']);
    await dk.dockerOk(['network', 'create', '-d', dk.plugin, '--ipam-driver', dk.plugin, '--subnet', '10.98.0.0/16', 'weftnet']);
    const nets = ['none', 'dockerbr', 'weftnet'];
    const samples = new Map<string, number[]>(nets.map((n) => [n, []]));
    // One warm-up each, not timed (first use loads the plugin, image layers, etc.).
    for (const n of nets) await dk.dockerOk(['run', '--rm', '--network', n, image, 'true']);
    for (let r = 0; r < RUNS; r++) {
      for (const n of nets) {
        const t0 = performance.now();
        await dk.dockerOk(['run', '--rm', '--network', n, image, 'true']);
        samples.get(n)!.push(performance.now() - t0);
      }
    }
    const none = summarize(samples.get('none')!);
    const rows = nets.map((n) => {
      const s = summarize(samples.get(n)!);
      return [
        n === 'none' ? 'none' : n === 'dockerbr' ? 'docker bridge' : 'weft (plugin)',
        String(s.n),
        s.p50,
        s.p99,
        s.mean,
        s.p50 - none.p50,
      ];
    });
    process.stdout.write(`\ndocker run --rm (ms), ${RUNS} runs each, interleaved; "added" = p50 minus --network none p50\n`);
    printTable(['network', 'runs', 'p50', 'p99', 'mean', 'added p50'], rows);
    const br = summarize(samples.get('dockerbr')!);
    const wf = summarize(samples.get('weftnet')!);
    process.stdout.write(
      `weft p50 / docker bridge p50 = ${(wf.p50 / br.p50).toFixed(2)}; network cost ratio (added) = ${((wf.p50 - none.p50) / (br.p50 - none.p50)).toFixed(2)}\n`,
    );
  } finally {
    await dk.cleanup();
    await h.cleanup();
  }
}

await main();
