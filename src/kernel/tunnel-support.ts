/**
 * Whether this kernel can do IP-in-IP (Calico's IPIP encapsulation: the `ipip` module and its
 * tunl0 device). Asked without changing anything: loading the module (or creating an ipip
 * link, which would load it) puts a tunl0 device into every namespace, the host's included,
 * so weft only looks — at /sys/module and the module index — and never loads it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';

export type ModuleState = 'loaded' | 'loadable' | 'absent';

/** Loaded (or built in), loadable from /lib/modules, or absent. */
export function kernelModuleState(name: string, modulesDir = `/lib/modules/${release()}`, sysModule = '/sys/module'): ModuleState {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad module name ${name}`);
  // Built-in modules without parameters have no /sys/module entry; modules.builtin covers them.
  if (existsSync(`${sysModule}/${name}`)) return 'loaded';
  for (const index of ['modules.builtin', 'modules.dep']) {
    let text: string;
    try {
      text = readFileSync(`${modulesDir}/${index}`, 'utf8');
    } catch {
      continue; // no module index (a container, or a kernel without modules): only /sys counts
    }
    const re = new RegExp(`(^|/)${name}\\.ko(\\.[gx]z|\\.zst)?(:|$)`, 'm');
    if (re.test(text)) return index === 'modules.builtin' ? 'loaded' : 'loadable';
  }
  return 'absent';
}

/** Whether an IP-in-IP fallback device (tunl0) exists in this process's namespace: the module is in. */
function hasTunl0(): boolean {
  try {
    return /^\s*tunl0:/m.test(readFileSync('/proc/self/net/dev', 'utf8'));
  } catch {
    return false; // no procfs view of the namespace: fall back on the module checks
  }
}

/** IP-in-IP support: 'loaded' when the kernel can make ipip tunnels now. */
export function ipipState(): ModuleState {
  return hasTunl0() ? 'loaded' : kernelModuleState('ipip');
}
