/** weft CLI: Docker-like network verbs plus run / sandbox / attach, talking to weftd. */
import { Command, CommanderError } from 'commander';
import { WeftClient } from './client.js';
import { registerNetworkCommands } from './network-commands.js';
import { registerRunCommand } from './run-command.js';
import { registerSandboxCommands } from './sandbox-commands.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerHostCommands } from './host-commands.js';
import { asWeftError } from '../errors.js';

export async function main(argv: string[]): Promise<number> {
  let client: WeftClient | undefined;
  const program = new Command('weft')
    .description('weft: container networking on the real Linux kernel')
    .option(
      '-H, --host <socket>',
      'weftd API socket (or unix://PATH; env WEFT_HOST)',
      process.env.WEFT_HOST ?? process.env.WEFT_SOCKET ?? '/run/weft/weft.sock',
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const getClient = (): WeftClient => (client ??= new WeftClient(program.opts<{ host: string }>().host.replace(/^unix:\/\//, '')));
  registerNetworkCommands(program, getClient);
  registerRunCommand(program, getClient);
  registerSandboxCommands(program, getClient);
  registerDoctorCommand(program, getClient);
  registerHostCommands(program, getClient);
  (await import('./lab-commands.js')).registerLabCommands(program);
  (await import('./cni-command.js')).registerCniCommand(program);
  for (const c of program.commands) {
    c.exitOverride();
    for (const s of c.commands) s.exitOverride();
  }
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const e = asWeftError(err);
    process.stderr.write(`Error: ${e.message}${e.code !== 'WEFT_INTERNAL' ? ` [${e.code}]` : ''}\n`);
    return e.code === 'WEFT_INVALID_ARGUMENT' ? 2 : 1;
  } finally {
    client?.close();
  }
}
