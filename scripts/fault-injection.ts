/** Full-size fault-injection run: node dist/scripts/fault-injection.js [--kills 500] [--seed 1] */
import { runFaultInjection } from '../src/lab/fault-injection.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const r = await runFaultInjection({
  kills: arg('kills', 500),
  seed: arg('seed', 1),
  maxMs: arg('max-minutes', 60) * 60_000,
  log: (l) => console.log(l),
});
console.log(JSON.stringify({ ...r, violations: r.violations.slice(0, 20) }, null, 2));
console.log(
  `${r.kills} kill points, ${r.operations} operations (${r.operationErrors} refused or cut), ${r.violations.length} kill points with invariant violations, ${r.leaks.length} leaks, ${(r.ms / 1000).toFixed(0)} s`,
);
process.exitCode = r.violations.length === 0 && r.leaks.length === 0 ? 0 : 1;
