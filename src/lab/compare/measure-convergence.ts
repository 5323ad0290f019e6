/**
 * Convergence: a new endpoint on host A → the first successful TCP connect to it from
 * endpoint b (host B). Each sample starts the clock before the design creates the endpoint and
 * stops it when b's already-running prober connects; the creation part is kept apart.
 */
import path from 'node:path';
import { REPO } from '../sim-host.js';
import type { CompareEndpoint, Deployment } from './design-adapter.js';
import { background, nextLine } from './endpoint-tools.js';

// From the repository root: the CLI runs this code from a bundle in another folder.
const PROBE = path.join(REPO, 'dist/src/lab/compare/connect-probe.js');

export interface ConvergenceResult {
  samplesMs: number[];
  createMs: number[];
  failures: number;
}

export async function measureConvergence(
  dep: Deployment,
  b: CompareEndpoint,
  hostA: string,
  samples: number,
  port: number,
): Promise<ConvergenceResult> {
  const prober = background(b, [process.execPath, PROBE]);
  const res: ConvergenceResult = { samplesMs: [], createMs: [], failures: 0 };
  try {
    const first = await nextLine(prober, 30_000);
    if (first !== 'ready') throw new Error(`connect prober did not start: ${first} ${prober.output()}`);
    for (let i = 1; i <= samples; i++) {
      const t0 = Date.now();
      const ep = await dep.addEndpoint(hostA, 100 + i);
      const created = Date.now();
      const listener = background(ep, ['sockperf', 'sr', '--tcp', '-i', ep.address, '-p', String(port)]);
      try {
        const reply = nextLine(prober, 40_000);
        prober.child.stdin!.write(`${ep.address} ${port} 30000\n`);
        const line = await reply;
        if (line.startsWith('ok ')) {
          res.samplesMs.push(Number(line.slice(3)) - t0);
          res.createMs.push(created - t0);
        } else res.failures++;
      } finally {
        listener.stop();
        await dep.removeEndpoint(ep);
      }
    }
    return res;
  } finally {
    prober.stop();
  }
}
