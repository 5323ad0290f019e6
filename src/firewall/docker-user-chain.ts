/**
 * Docker's FORWARD policy is DROP and, with br_netfilter, applies to frames bridged inside a
 * weft network too; DOCKER-USER is the chain Docker documents for other tools' rules and never
 * flushes. Weft keeps ACCEPT rules for its bridges there whenever that chain exists — dockerd
 * may start after weftd and re-creates its chains when it restarts, hence `resync`.
 *
 * With iptables-nft (Debian, Fedora, Ubuntu since 2020) that chain is nf_tables chain
 * `ip filter DOCKER-USER`, so the kernel tells weft when it appears or loses rules: resync runs
 * then, and costs nothing while nothing changes. Legacy iptables sends no notifications; there
 * the chain is re-checked on a timer (`watchChanges` answers undefined).
 */
import { DOCKER_USER_CHAIN, ensureDockerUserAccept, iptablesFlavour, removeDockerUserAccept } from '../kernel/iptables.js';
import { watchNftables, type NftEvent } from '../kernel/nft-events.js';
import { NFPROTO } from '../kernel/netlink/nft-event-msg.js';
import type { HostIntegration, IntegrationWatch } from './host-integration.js';
import type { FwNetwork } from './types.js';

/**
 * Whether an nf_tables change may have removed weft's DOCKER-USER rules or (re)created the
 * chain. Rules added there (weft's own inserts among them) and other tables change nothing
 * weft needs, so they do not wake it.
 */
export function dockerUserChainTouched(e: NftEvent | 'overrun'): boolean {
  if (e === 'overrun') return true; // notifications were lost: look once
  if (e.family !== NFPROTO.IPV4 || e.table !== 'filter' || e.chain !== DOCKER_USER_CHAIN) return false;
  return e.object === 'chain' ? e.action === 'new' : e.action === 'del';
}

export class DockerUserChain implements HostIntegration {
  readonly name = 'DOCKER-USER rules';
  readonly required = false;
  /**
   * One iptables change at a time: `-C` then `-I` is not atomic, so a network's ensure and a
   * resync running side by side would both insert the same rule.
   */
  private tail: Promise<unknown> = Promise.resolve();

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn);
    // The caller gets the outcome from `next`; the queue only waits for it to settle.
    this.tail = Promise.allSettled([next]);
    return next;
  }

  async networkUp(net: FwNetwork): Promise<void> {
    await this.serial(() => ensureDockerUserAccept(net.bridge));
  }

  async networkDown(net: FwNetwork): Promise<void> {
    await this.serial(() => removeDockerUserAccept(net.bridge));
  }

  async resync(nets: readonly FwNetwork[]): Promise<void> {
    await this.serial(async () => {
      // No chain (no dockerd) means nothing to do for any bridge.
      for (const n of nets) if (!(await ensureDockerUserAccept(n.bridge))) return;
    });
  }

  async watchChanges(onChange: () => void): Promise<IntegrationWatch | undefined> {
    if ((await iptablesFlavour()) !== 'nf_tables') return undefined;
    return watchNftables((e) => {
      if (dockerUserChainTouched(e)) onChange();
    });
  }
}
