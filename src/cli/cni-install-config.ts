/**
 * The install configuration of the CNI plugin executables: `weft-cni.conf` next to them, read
 * by cni/weft-cni.c. It names what the plugin trusts — weftd's socket, the node binary and the
 * script of the in-process fallback, and the fallback's store — so that nothing in a network
 * configuration (which pod authors partly write) can. Root-owned, mode 0644, replaced atomically.
 */
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '../errors.js';

export const CNI_INSTALL_CONFIG = 'weft-cni.conf';

export interface CniInstallConfig {
  socket: string;
  node: string;
  /** dist/src/api/cni/cni-main.js of this weft installation. */
  main: string;
  stateDir?: string;
  runDir?: string;
  store?: string;
}

/** The file's text (pure); every path must be absolute and no value may break a line. */
export function renderInstallConfig(c: CniInstallConfig): string {
  const lines = ['# Written by `weft cni install`; read by the weft CNI plugins in this directory.'];
  const put = (key: string, value: string | undefined, isPath: boolean): void => {
    if (value === undefined) return;
    if (/[\n\r\0]/.test(value)) throw new InvalidArgumentError(key, 'must not contain line breaks or NUL');
    if (isPath && !path.isAbsolute(value)) throw new InvalidArgumentError(key, `"${value}" must be an absolute path`);
    lines.push(`${key}=${value}`);
  };
  put('socket', c.socket, true);
  put('node', c.node, true);
  put('main', c.main, true);
  put('state-dir', c.stateDir, true);
  put('run-dir', c.runDir, true);
  put('store', c.store, false);
  return lines.join('\n') + '\n';
}

/** Write the configuration into binDir (atomically: a plugin running meanwhile reads old or new). */
export function writeInstallConfig(binDir: string, c: CniInstallConfig): string {
  const dest = path.join(binDir, CNI_INSTALL_CONFIG);
  const tmp = `${dest}.weft-new`;
  writeFileSync(tmp, renderInstallConfig(c), { mode: 0o644 });
  chmodSync(tmp, 0o644); // the umask must not make it group- or world-writable either way
  renameSync(tmp, dest);
  return dest;
}
