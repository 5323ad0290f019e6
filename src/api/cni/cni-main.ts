/**
 * The CNI plugins without weftd: the compiled shim execs this when weftd's socket does not
 * answer (`node cni-main.js <weft|weft-ipam>`, the invocation's stdin and CNI_* environment
 * passed along). It opens the engine in-process on the same store weftd uses — slower (Node
 * start-up) but the same code and the same state; the store's compare-and-set and locks keep
 * it safe next to a weftd that comes up meanwhile.
 */
import path from 'node:path';
import { configFromFlags } from '../../config/daemon-config.js';
import { openEngine, type Engine } from '../../controller/open-engine.js';
import { handleCni } from './cni-handler.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Engine location: WEFT_* variables (the compiled entry point sets them from its install
 * configuration or its own environment), then defaults. Never the network configuration:
 * pod authors write parts of it, and it must not choose which store a root process writes.
 */
function configOf(): ReturnType<typeof configFromFlags> {
  return configFromFlags({ stateDir: process.env.WEFT_STATE_DIR, runDir: process.env.WEFT_RUN_DIR, store: process.env.WEFT_STORE });
}

export async function cniMain(argv: string[]): Promise<number> {
  const plugin = argv[2] ?? path.basename(argv[1] ?? 'weft');
  const stdin = await readStdin();
  let engine: Engine | undefined;
  try {
    const reply = await handleCni(plugin, process.env, stdin, async () => (engine ??= await openEngine(configOf())).controller);
    if (reply.output !== undefined) process.stdout.write(JSON.stringify(reply.output) + '\n');
    return reply.exitCode;
  } finally {
    // The reply is already printed; a failure to close is reported on stderr, which runtimes log.
    await engine?.close().catch((err: unknown) => process.stderr.write(`weft: closing the engine failed: ${(err as Error).message}\n`));
  }
}

process.exitCode = await cniMain(process.argv);
