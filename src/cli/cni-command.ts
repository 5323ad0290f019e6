/**
 * `weft cni install --bin-dir DIR`: put the CNI plugin executables (`weft`, `weft-ipam`) where
 * runtimes look for them. They are the compiled shim (cni/weft-cni.c), built on demand; files
 * are replaced by rename so a runtime executing the old binary meanwhile is not disturbed.
 */
import type { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../errors.js';
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

/** Build (if needed) and install the plugins; returns the installed paths. */
export function installCniPlugins(binDir: string, opts: { rebuild?: boolean; socket?: string } = {}): string[] {
  if (!path.isAbsolute(binDir)) throw new InvalidArgumentError('bin-dir', `"${binDir}" must be an absolute path`);
  const built = path.join(REPO, 'dist/cni/weft');
  if (opts.rebuild || opts.socket || !existsSync(built)) {
    execFileSync(path.join(REPO, 'scripts/build-cni.sh'), ['--repo', REPO, ...(opts.socket ? ['--socket', opts.socket] : [])], {
      stdio: 'inherit',
    });
  }
  mkdirSync(binDir, { recursive: true });
  return CNI_PLUGINS.map((name) => {
    const dest = path.join(binDir, name);
    const tmp = `${dest}.weft-new`;
    copyFileSync(built, tmp);
    chmodSync(tmp, 0o755);
    renameSync(tmp, dest);
    return dest;
  });
}

export function register(program: Command, _cli: CliContext): void {
  const cni = program.command('cni').description('weft as a CNI plugin (podman, containerd, Kubernetes)');
  cni
    .command('install')
    .description('install the weft and weft-ipam CNI plugin executables into a CNI bin directory')
    .option('--bin-dir <dir>', 'CNI plugin directory', '/opt/cni/bin')
    .option('--socket <path>', 'weftd socket compiled in as the default (else /run/weft/weft.sock)')
    .option('--rebuild', 'rebuild the executables even if they exist')
    .option(...FORMAT_OPTION)
    .action((o: { binDir: string; socket?: string; rebuild?: boolean; format?: string }) => {
      const format = parseFormat(o.format);
      const paths = installCniPlugins(path.resolve(o.binDir), { rebuild: o.rebuild, socket: o.socket });
      printList(paths, format, pathsView, () => paths.map((p) => p + '\n').join(''));
    });
}
