/**
 * `weft cni install --bin-dir DIR`: put the CNI plugin executables (`weft`, `weft-ipam`) where
 * runtimes look for them, with their install configuration (weft-cni.conf: which weftd socket
 * to trust and which fallback to run). The executable is the one the build step made
 * (scripts/build-cni.sh): nodes need no C compiler. Files are replaced by rename, so a runtime
 * executing the old binary meanwhile is not disturbed.
 */
import type { Command } from 'commander';
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { writeInstallConfig } from './cni-install-config.js';
import type { CliContext } from './cli-context.js';
import { FORMAT_OPTION, printList, type View } from './output.js';
import { parseFormat } from './format/format-spec.js';

const pathsView: View<string> = {
  columns: [{ header: 'PATH', cell: (p) => p }],
  row: (p) => ({ Path: p }),
  strict: true,
  jsonList: 'array',
};

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CNI_PLUGINS = ['weft', 'weft-ipam'] as const;
/** What the build step produces. */
export const BUILT_SHIM = path.join(REPO, 'dist/cni/weft');

export interface CniInstallOptions {
  /** weftd's API socket (default /run/weft/weft.sock). */
  socket?: string;
  /** Where the in-process fallback finds the store when weftd is down. */
  stateDir?: string;
  runDir?: string;
  store?: string;
  /** The built executable to install (default: this installation's dist/cni/weft). */
  source?: string;
}

/** Install the plugins and their configuration; returns the installed paths. */
export function installCniPlugins(binDir: string, opts: CniInstallOptions = {}): string[] {
  if (!path.isAbsolute(binDir)) throw new InvalidArgumentError('bin-dir', `"${binDir}" must be an absolute path`);
  const built = opts.source ?? BUILT_SHIM;
  if (!existsSync(built)) throw new NotFoundError('CNI plugin executable (run the build: npm run build && scripts/build-cni.sh)', built);
  mkdirSync(binDir, { recursive: true });
  const abs = (p: string | undefined): string | undefined => (p === undefined ? undefined : path.resolve(p));
  const conf = writeInstallConfig(binDir, {
    socket: abs(opts.socket) ?? '/run/weft/weft.sock',
    node: process.execPath,
    main: path.join(REPO, 'dist/src/api/cni/cni-main.js'),
    ...(opts.stateDir ? { stateDir: abs(opts.stateDir)! } : {}),
    ...(opts.runDir ? { runDir: abs(opts.runDir)! } : {}),
    ...(opts.store ? { store: opts.store } : {}),
  });
  const installed = CNI_PLUGINS.map((name) => {
    const dest = path.join(binDir, name);
    const tmp = `${dest}.weft-new`;
    copyFileSync(built, tmp);
    chmodSync(tmp, 0o755);
    renameSync(tmp, dest);
    return dest;
  });
  return [...installed, conf];
}

export function register(program: Command, _cli: CliContext): void {
  const cni = program.command('cni').description('weft as a CNI plugin (podman, containerd, Kubernetes)');
  cni
    .command('install')
    .description('install the weft and weft-ipam CNI plugin executables and their configuration into a CNI bin directory')
    .option('--bin-dir <dir>', 'CNI plugin directory', '/opt/cni/bin')
    .option('--socket <path>', 'weftd socket the plugins trust', '/run/weft/weft.sock')
    .option('--state-dir <dir>', "weftd's state directory (for the in-process fallback when weftd is down)")
    .option('--run-dir <dir>', "weftd's runtime directory (same)")
    .option('--store <url>', "weftd's store URL, if not the default under --state-dir (same)")
    .option(...FORMAT_OPTION)
    .action((o: { binDir: string; socket: string; stateDir?: string; runDir?: string; store?: string; format?: string }) => {
      const format = parseFormat(o.format);
      const { format: _f, binDir, ...install } = o;
      const paths = installCniPlugins(path.resolve(binDir), install);
      printList(paths, format, pathsView, () => paths.map((p) => p + '\n').join(''));
    });
}
