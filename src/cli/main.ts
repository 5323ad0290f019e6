/** weft CLI: Docker-like network verbs plus run / sandbox / attach, talking to weftd. */
import { Command, CommanderError } from 'commander';
import { resolveHost, WeftClient } from './client.js';
import { ReportedError, type CliContext } from './cli-context.js';
import { globalArgs, verbsFor } from './verbs.js';
import { asWeftError } from '../errors.js';
import { mark } from './trace.js';

/** Print an error once, with its stable code; returns the exit status. */
function report(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2; // commander printed it already
  if (err instanceof ReportedError) return err.exitCode;
  const e = asWeftError(err);
  process.stderr.write(`Error: ${e.message}${e.code !== 'WEFT_INTERNAL' ? ` [${e.code}]` : ''}\n`);
  return e.code === 'WEFT_INVALID_ARGUMENT' ? 2 : 1;
}

export async function main(argv: string[]): Promise<number> {
  mark('main');
  const args = argv.slice(2);
  let client: WeftClient | undefined;
  try {
    // Like `docker --version`: answered before anything else is loaded.
    if (globalArgs(args).some((a) => a === '-v' || a === '--version')) {
      process.stdout.write(`weft version ${(await import('./version.js')).weftVersion()}\n`);
      return 0;
    }
    const program = new Command('weft')
      .description('weft: container networking on the real Linux kernel')
      .option('-H, --host <socket>', 'weftd API socket, unix:///path or /path (default: $WEFT_HOST, else /run/weft/weft.sock)')
      .option('-v, --version', 'print the version and exit')
      .exitOverride()
      .configureOutput({ writeErr: (s) => process.stderr.write(s) });
    const cli: CliContext = {
      client: () => (client ??= new WeftClient(resolveHost(program.opts<{ host?: string }>().host))),
    };
    for (const v of verbsFor(args)) (await v.load()).register(program, cli);
    for (const c of program.commands) {
      c.exitOverride();
      for (const s of c.commands) s.exitOverride();
    }
    mark('registered');
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return report(err);
  } finally {
    client?.close();
  }
}
