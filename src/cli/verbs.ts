/**
 * Every top-level verb of `weft`, and where its code lives. To add a verb, add one line here
 * and a module exporting `register(program, cli)` (see cli-context.ts); print through
 * output.ts (printList / printOne with a View) so `--format` behaves like everywhere else.
 * Modules are imported only for the verb being run, so `weft network ls` loads only its own code.
 */
import type { VerbModule } from './cli-context.js';

export interface Verb {
  name: string;
  aliases?: string[];
  load: () => Promise<VerbModule>;
}

export const VERBS: Verb[] = [
  { name: 'network', load: () => import('./network-commands.js') },
  { name: 'run', load: () => import('./run-command.js') },
  { name: 'sandbox', load: () => import('./sandbox-commands.js') },
  { name: 'attach', load: () => import('./attach-command.js') },
  { name: 'doctor', load: () => import('./doctor-command.js') },
  { name: 'cni', load: () => import('./cni-command.js') },
  { name: 'host', load: () => import('./host-commands.js') },
  { name: 'lab', load: () => import('./lab-commands.js') },
  { name: 'policy', load: () => import('./policy-commands.js') },
  { name: 'bgp', load: () => import('./bgp-commands.js') },
  { name: 'mesh', load: () => import('./mesh-commands.js') },
];

/** Global options that take a value (so the word after them is not the verb). */
const GLOBAL_WITH_VALUE = new Set(['-H', '--host']);

/** Where the verb is in a command line (after node and the script): its index, or args.length. */
function verbIndex(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (GLOBAL_WITH_VALUE.has(a)) i++;
    else if (!a.startsWith('-')) return i;
  }
  return args.length;
}

/** The verb of a command line, or undefined. */
export const verbOf = (args: string[]): string | undefined => args[verbIndex(args)];

/** The global options before the verb. */
export const globalArgs = (args: string[]): string[] => args.slice(0, verbIndex(args));

/** The verbs to load for a command line: just its own, or all (help, unknown verb, none). */
export function verbsFor(args: string[]): Verb[] {
  const v = verbOf(args);
  const own = VERBS.filter((x) => x.name === v || x.aliases?.includes(v ?? ''));
  return own.length > 0 ? own : VERBS;
}
