/**
 * Run inside an endpoint for the convergence measurement, started once before the samples so
 * Node's start-up is not in them. For each stdin line "ADDR PORT TIMEOUT_MS" it tries TCP
 * connects every 5 ms until one succeeds and prints "ok EPOCH_MS", or prints "fail REASON"
 * after the timeout. Prints "ready" first.
 */
import net from 'node:net';
import readline from 'node:readline';

function probe(host: string, port: number, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    let last = 'no attempt';
    const attempt = (): void => {
      if (Date.now() > deadline) return resolve(`fail ${last}`);
      const s = net.connect({ host, port });
      s.setTimeout(500);
      s.once('connect', () => {
        const t = Date.now();
        s.destroy();
        resolve(`ok ${t}`);
      });
      const retry = (why: string): void => {
        last = why;
        s.destroy();
        setTimeout(attempt, 5);
      };
      s.once('timeout', () => retry('connect timeout'));
      s.once('error', (e) => retry(e.message));
    };
    attempt();
  });
}

const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  const [host, port, timeout] = line.trim().split(/\s+/);
  chain = chain.then(async () => void process.stdout.write(`${await probe(host!, Number(port), Number(timeout ?? 30000))}\n`));
});
process.stdout.write('ready\n');
