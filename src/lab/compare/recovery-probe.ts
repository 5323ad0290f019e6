/**
 * Run inside an endpoint for the failure measurements: it tries a TCP connect to ADDR PORT every
 * INTERVAL ms (each bounded by the interval) and prints "up EPOCH_MS" / "down EPOCH_MS" whenever
 * the outcome changes, so the harness sees exactly when traffic stopped and came back.
 * Prints "ready" first. Usage: recovery-probe ADDR PORT INTERVAL_MS
 */
import net from 'node:net';

const [host, portS, intervalS] = process.argv.slice(2);
const port = Number(portS);
const interval = Number(intervalS ?? 100);
let state: 'up' | 'down' | undefined;

function attempt(): void {
  const t = Date.now();
  const s = net.connect({ host: host!, port });
  let done = false;
  const finish = (ok: boolean): void => {
    if (done) return;
    done = true;
    s.destroy();
    const now = ok ? 'up' : 'down';
    if (now !== state) {
      state = now;
      process.stdout.write(`${now} ${t}\n`);
    }
    setTimeout(attempt, Math.max(0, interval - (Date.now() - t)));
  };
  s.setTimeout(interval * 3);
  s.once('connect', () => finish(true));
  s.once('timeout', () => finish(false));
  s.once('error', () => finish(false));
}
process.stdout.write('ready\n');
attempt();
