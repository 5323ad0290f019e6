/**
 * Connection prober for bench/routed.ts, run inside a sandbox's network namespace. Attempts
 * overlap (a new socket every STEP ms, each with its own short timeout) so a SYN lost before a
 * route or rule exists never costs a 1 s retransmit: the time resolution is STEP plus one RTT.
 *   connect HOST PORT TIMEOUT_MS  exit 0 printing "ok <epoch ms of the first handshake> <local address>"
 *   watch                         reads "open HOST PORT" / "closed HOST PORT" lines on stdin and
 *                                 prints "<epoch ms>" when the port is reached (open: the first
 *                                 handshake; closed: the start of the first attempt in a run of
 *                                 FAILS failed ones with no later-started success)
 */
import net from 'node:net';
import { createInterface } from 'node:readline';

const STEP = 10;
const ATTEMPT_MS = 150;
const FAILS = 3;

/** One attempt: resolves with success or failure; never rejects. */
function attempt(host: string, port: number): Promise<{ ok: boolean; at: number; local?: string }> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => finish(false), ATTEMPT_MS);
    function finish(ok: boolean): void {
      clearTimeout(t);
      const local = s.localAddress;
      s.destroy();
      resolve({ ok, at: Date.now(), ...(local ? { local } : {}) });
    }
    s.once('connect', () => finish(true));
    s.once('error', () => finish(false));
  });
}

/** Resolves with the time the wanted state was reached (see the header), or rejects after timeoutMs. */
function until(want: 'open' | 'closed', host: string, port: number, timeoutMs: number): Promise<{ at: number; local?: string }> {
  return new Promise((resolve, reject) => {
    let done = false;
    let candidate: number | undefined; // start time of the first failure not yet contradicted
    let failsSince = 0;
    const deadline = setTimeout(() => stop(() => reject(new Error(`${host}:${port} not ${want} within ${timeoutMs} ms`))), timeoutMs);
    const timer = setInterval(() => {
      const started = Date.now();
      void attempt(host, port).then((r) => {
        if (done) return;
        if (want === 'open') {
          if (r.ok) stop(() => resolve({ at: r.at, ...(r.local ? { local: r.local } : {}) }));
          return;
        }
        if (r.ok) {
          if (candidate !== undefined && started >= candidate) {
            candidate = undefined;
            failsSince = 0;
          }
          return;
        }
        if (candidate === undefined || started < candidate) candidate = started;
        if (++failsSince >= FAILS) stop(() => resolve({ at: candidate! }));
      });
    }, STEP);
    function stop(then: () => void): void {
      done = true;
      clearInterval(timer);
      clearTimeout(deadline);
      then();
    }
  });
}

const [mode, host, port, timeout] = process.argv.slice(2);
if (mode === 'connect') {
  until('open', host!, Number(port), Number(timeout)).then(
    (r) => process.stdout.write(`ok ${r.at} ${r.local ?? '?'}\n`),
    (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
    },
  );
} else if (mode === 'watch') {
  // One request at a time: the controller waits for each answer before the next change.
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [want, h, p] = line.trim().split(/\s+/);
    if (want !== 'open' && want !== 'closed') return;
    until(want, h!, Number(p), 60_000).then(
      (r) => process.stdout.write(`${r.at}\n`),
      (err: Error) => process.stdout.write(`error ${err.message}\n`),
    );
  });
} else {
  process.stderr.write('usage: routed-probe connect HOST PORT TIMEOUT_MS | watch\n');
  process.exitCode = 2;
}
