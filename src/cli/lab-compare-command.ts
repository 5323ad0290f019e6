/**
 * `weft lab compare`: every multi-host design on the same simulated hosts, measured and
 * checked, reported as compare.json / compare.md / compare.html / plots/*.svg in --out.
 */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import path from 'node:path';
import { InvalidArgumentError } from '../errors.js';

export function registerCompare(lab: Command): void {
  lab
    .command('compare')
    .description(
      "run each design on one lab (same hosts, same underlay), measure and check it, and write the seed's comparison table with plots",
    )
    .option('--hosts <n>', 'lab hosts (3 for the partial-connectivity check)', '3')
    .option('--designs <list>', 'comma-separated designs (default: every design with an adapter)')
    .option('--out <dir>', 'where compare.json, compare.md, compare.html and plots/ go', 'weft-compare')
    .option('--quick', 'one repetition, short runs (a few minutes in all)')
    .option('--lab-prefix <p>', "the lab's name: this prefix (1-4 characters) and a random tag", 'cmp')
    .action(async (o: { hosts: string; designs?: string; out: string; quick?: boolean; labPrefix: string }) => {
      // Loaded here: the lab and the report builder are only needed for this verb.
      const { runCompare } = await import('../lab/compare/run-compare.js');
      const { DEFAULT_DESIGNS } = await import('../lab/compare/designs.js');
      const hosts = Number(o.hosts);
      if (!Number.isInteger(hosts)) throw new InvalidArgumentError('hosts', `"${o.hosts}" is not a number`);
      const designs = o.designs
        ? o.designs
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : DEFAULT_DESIGNS();
      const bar = new cliProgress.SingleBar(
        { stream: process.stderr, format: 'compare {bar} {value}/{total} {design}: {step}', hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      let started = false;
      const t0 = Date.now();
      const out = path.resolve(o.out);
      const report = await runCompare({
        hosts,
        designs,
        out,
        quick: o.quick ?? false,
        labPrefix: o.labPrefix,
        onProgress: ({ design, step, done, total }) => {
          if (!started) {
            bar.start(total, 0, { design, step });
            started = true;
          }
          bar.update(done, { design, step });
        },
      }).finally(() => bar.stop());
      const failed = report.designs.filter((d) => d.status !== 'ok');
      process.stdout.write(
        `compared ${report.designs.length} designs on ${hosts} hosts in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${out}/compare.html, compare.md, compare.json, plots/\n`,
      );
      for (const d of failed) process.stdout.write(`design ${d.design} failed: ${d.error ?? ''}\n`);
      if (failed.length) process.exitCode = 1;
    });
}
