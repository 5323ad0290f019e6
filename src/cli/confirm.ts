/**
 * Docker-style confirmation for destructive verbs: ask on a terminal, refuse without one.
 * A script must say -f/--force; it is never prompted or silently assumed to agree.
 */
import { InvalidArgumentError } from '../errors.js';

/** Ask `question [y/N]` on the terminal; resolves true only for y/yes. */
export async function confirm(question: string, input: NodeJS.ReadStream = process.stdin): Promise<boolean> {
  if (!input.isTTY) throw new InvalidArgumentError('force', 'standard input is not a terminal, so nobody can confirm: add -f/--force');
  process.stdout.write(`${question} [y/N] `);
  const line = await new Promise<string>((resolve) => {
    let buf = '';
    const onData = (c: Buffer): void => {
      buf += c.toString('utf8');
      if (buf.includes('\n')) finish();
    };
    const finish = (): void => {
      input.off('data', onData);
      input.off('end', finish);
      input.pause();
      resolve(buf.split('\n')[0]!.trim());
    };
    input.on('data', onData);
    input.once('end', finish);
    input.resume();
  });
  return /^y(es)?$/i.test(line);
}
