/**
 * A tiny daemon for the supervisor tests. Inert unless WEFT_SUPERVISOR_CHILD=1, because the
 * test runner may also load every file under test/.
 *   serve SOCKET [--delay MS] [--ignore-term] [--exit-after MS CODE] [--spam BYTES]
 *     prints "hello", listens on the unix socket SOCKET after MS (readiness), optionally ignores
 *     SIGTERM, exits with CODE after MS, or prints BYTES of output.
 *   crash CODE   exits at once with CODE.
 */
import net from 'node:net';
import { rmSync } from 'node:fs';

function main(argv: string[]): void {
  const [mode, ...rest] = argv;
  if (mode === 'crash') {
    process.stderr.write('crashing\n');
    process.exit(Number(rest[0] ?? 1));
  }
  if (mode !== 'serve' || !rest[0]) throw new Error('usage: serve SOCKET [options] | crash CODE');
  const socket = rest[0];
  const opt = (name: string): string | undefined => {
    const i = rest.indexOf(name);
    return i < 0 ? undefined : (rest[i + 1] ?? '');
  };
  process.stdout.write(`hello from ${process.pid}\n`);
  if (rest.includes('--ignore-term')) process.on('SIGTERM', () => process.stdout.write('ignoring SIGTERM\n'));
  else process.on('SIGTERM', () => process.exit(0));
  const spam = opt('--spam');
  if (spam !== undefined) {
    const line = 'x'.repeat(99) + '\n';
    let left = Number(spam);
    const tick = setInterval(() => {
      for (let i = 0; i < 100 && left > 0; i++, left -= 100) process.stdout.write(line);
      if (left <= 0) clearInterval(tick);
    }, 5);
  }
  const exitAfter = opt('--exit-after');
  if (exitAfter !== undefined) {
    const i = rest.indexOf('--exit-after');
    setTimeout(() => process.exit(Number(rest[i + 2] ?? 1)), Number(exitAfter));
  }
  setTimeout(
    () => {
      rmSync(socket, { force: true });
      net.createServer((c) => c.end()).listen(socket);
    },
    Number(opt('--delay') ?? 0),
  );
}

if (process.env.WEFT_SUPERVISOR_CHILD === '1') main(process.argv.slice(2));
