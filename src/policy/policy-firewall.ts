/**
 * Applies compiled policy to the kernel through the one nft runner (src/kernel/nft.ts): each
 * apply() is one `nft -f` transaction holding only what changed since the last one; what was
 * applied is kept for restore() (after `nft flush ruleset` or a firewall reload) and check()
 * (drift). Changes are serialised. The only table touched is `inet weft-policy`.
 */
import { FirewallError, KernelError, KernelUnsupportedError } from '../errors.js';
import { Nft, type NftExecutor } from '../kernel/nft.js';
import { libnftablesUnavailable } from '../kernel/libnftables.js';
import { readSysctlIn, writeSysctlIn } from '../kernel/sysctl.js';
import { POLICY_FAMILY, POLICY_TABLE } from './nft-names.js';
import { checkPolicyTable, ruleFingerprints } from './policy-check.js';
import type { CompiledPolicy } from './policy-compiler.js';
import { IncrementalPolicyCompiler } from './policy-incremental.js';
import { type PolicyTransaction, type TransactionStats, fullTransaction } from './policy-transaction.js';
import type { PolicyInput } from './policy-types.js';

/** br_netfilter switches that send bridged IPv4/IPv6 frames through the inet forward hook. */
export const BRIDGE_HOOK_SYSCTLS = ['net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables'] as const;

export interface PolicyFirewallOptions {
  /** How nft is run; defaults to `new Nft({ netnsPath })` (in-process libnftables without one). */
  nft?: NftExecutor;
  /** Namespace to act in (tests); the daemon leaves it unset and acts in its own. */
  netnsPath?: string;
  /** Sysctl access in that namespace (defaults to src/kernel/sysctl.ts). */
  sysctl?: { read(key: string): Promise<string>; write(key: string, value: string): Promise<void> };
  /**
   * Bridged networks need br_netfilter's IP hooks on. When they are off: true turns them on
   * (what Docker does), false (default) refuses with an error rather than enforce nothing.
   */
  enableBridgeHooks?: boolean;
}

export interface PolicyApplyReport {
  /** The whole table was (re)written. */
  full: boolean;
  /** The incremental transaction failed (e.g. someone flushed the table) and the full one was applied. */
  fellBack: boolean;
  stats: TransactionStats;
  scriptBytes: number;
  compileMs: number;
  /** Time inside `nft -f`: from here on the new policy is enforced. */
  applyMs: number;
  /** Whole call, including reading back rule fingerprints after rules were written. */
  totalMs: number;
}

export interface PolicyCheck {
  ok: boolean;
  problems: string[];
}

export class PolicyFirewall {
  private readonly nft: NftExecutor;
  private readonly sysctl: NonNullable<PolicyFirewallOptions['sysctl']>;
  private readonly enableBridgeHooks: boolean;
  private readonly compiler = new IncrementalPolicyCompiler();
  private compiled: CompiledPolicy | undefined;
  private lastInput: PolicyInput | undefined;
  /** Rule fingerprints ("chain#i" → expressions as the kernel echoes them), see check(). */
  private reference = new Map<string, string>();
  /** Chains written since their fingerprints were taken. */
  private unfingerprinted = new Set<string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(opts: PolicyFirewallOptions = {}) {
    const ns = opts.netnsPath;
    // In its own namespace (weftd) a change is applied through libnftables, not a forked nft:
    // on a loaded host starting nft is most of a policy change's time (bench/routed.ts).
    this.nft = opts.nft ?? new Nft(ns === undefined ? { inProcess: true } : { netnsPath: ns });
    this.sysctl = opts.sysctl ?? { read: (k) => readSysctlIn(ns, k), write: (k, v) => writeSysctlIn(ns, k, v) };
    this.enableBridgeHooks = opts.enableBridgeHooks ?? false;
  }

  /** How transactions reach the kernel: 'libnftables' (in this process) or 'nft' (a child process, or an injected executor). */
  get transport(): 'libnftables' | 'nft' {
    return this.nft instanceof Nft && this.nft.inProcess ? 'libnftables' : 'nft';
  }

  /** Why transactions do not go through libnftables in weftd's own namespace (undefined when they do, or need not). */
  get transportNote(): string | undefined {
    if (this.transport === 'libnftables' || !(this.nft instanceof Nft) || this.nft.netnsPath !== undefined) return undefined;
    if (process.env.WEFT_NFT_EXEC === '1') return 'WEFT_NFT_EXEC=1';
    return libnftablesUnavailable() ?? 'not in-process';
  }

  /** What was last applied: the input and its compiled table (undefined before the first apply). */
  get state(): { input: PolicyInput; compiled: CompiledPolicy } | undefined {
    return this.compiled && this.lastInput ? { input: this.lastInput, compiled: this.compiled } : undefined;
  }

  /** Run changes one at a time, in call order; each caller gets its own result or error. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn);
    // The queue only orders calls; `next` carries the error to its caller.
    this.queue = next.then(
      () => undefined,
      // eslint-disable-next-line no-restricted-syntax -- the error reaches the caller through `next`
      () => undefined,
    );
    return next;
  }

  /** Make sure bridged traffic meets the inet forward hook, or say why it cannot. */
  private async checkBridgeHooks(input: PolicyInput): Promise<void> {
    const bridged = new Set(input.networks.filter((n) => n.mode === 'bridged').map((n) => n.name));
    if (!input.endpoints.some((ep) => ep.local && bridged.has(ep.network))) return;
    for (const key of BRIDGE_HOOK_SYSCTLS) {
      let value: string;
      try {
        value = await this.sysctl.read(key);
      } catch (err) {
        if (err instanceof KernelError && (err.errno === 2 || /ENOENT/.test(err.message))) {
          throw new KernelUnsupportedError(
            'br_netfilter',
            `${key} does not exist, so bridged traffic cannot be filtered (load br_netfilter)`,
          );
        }
        throw err;
      }
      if (value === '1') continue;
      if (!this.enableBridgeHooks) {
        throw new FirewallError(
          `${key} is ${value}: bridged traffic would bypass policy; set it to 1 (or let weft do it with enableBridgeHooks)`,
        );
      }
      await this.sysctl.write(key, '1');
    }
  }

  private async run(tx: PolicyTransaction): Promise<number> {
    const t0 = performance.now();
    if (tx.script !== '') await this.nft.apply(tx.script);
    return performance.now() - t0;
  }

  /** Enforce `input`: compile, then apply the difference from what is live in one transaction. */
  apply(input: PolicyInput): Promise<PolicyApplyReport> {
    return this.serial(async () => {
      const t0 = performance.now();
      const plan = this.compiler.plan(input);
      const compileMs = performance.now() - t0;
      await this.checkBridgeHooks(input);
      let tx = plan.transaction;
      let fellBack = false;
      let applyMs: number;
      try {
        applyMs = await this.run(tx);
      } catch (err) {
        if (tx.full || !(err instanceof FirewallError)) throw err;
        // The kernel no longer holds what we applied (flushed, edited): rewrite the table whole.
        tx = plan.full();
        fellBack = true;
        try {
          applyMs = await this.run(tx);
        } catch (again) {
          this.compiler.forget();
          this.compiled = undefined;
          const why = again instanceof Error ? again.message : String(again);
          throw new FirewallError(
            `the policy change and the full policy table were both refused: ${why}`,
            new AggregateError([err, again]),
          );
        }
      }
      this.compiled = this.compiler.commit(plan);
      // Policies are immutable values; endpoints are copied because callers relabel them in place.
      this.lastInput = {
        policies: [...input.policies],
        networks: [...input.networks],
        endpoints: input.endpoints.map((ep) => ({ ...ep, labels: { ...ep.labels }, addresses: [...ep.addresses] })),
      };
      for (const c of tx.chainsWritten) this.unfingerprinted.add(c);
      return {
        full: tx.full,
        fellBack,
        stats: tx.stats,
        scriptBytes: tx.script.length,
        compileMs,
        applyMs,
        totalMs: performance.now() - t0,
      };
    });
  }

  /** Re-apply everything last applied (after `nft flush ruleset` or a firewall reload). */
  restore(): Promise<void> {
    return this.serial(async () => {
      if (!this.compiled) return;
      const tx = fullTransaction(this.compiled);
      await this.nft.apply(tx.script);
      for (const c of tx.chainsWritten) this.unfingerprinted.add(c);
    });
  }

  /**
   * Compare the live table with what was applied. Rules are fingerprinted as the kernel shows
   * them the first time a check sees them (listing the table makes nft read every set element, so
   * doing it after each apply would make rule changes cost O(endpoints)); from then on an edited
   * rule is reported. Added, removed or reordered rules are found at any time by their comments.
   */
  check(): Promise<PolicyCheck> {
    return this.serial(async () => {
      if (!this.compiled) return { ok: true, problems: [] };
      const live = await this.nft.listTable(POLICY_FAMILY, POLICY_TABLE);
      const chainOf = (key: string): string => key.slice(0, key.lastIndexOf('#'));
      const known = new Map([...this.reference].filter(([key]) => !this.unfingerprinted.has(chainOf(key))));
      const problems = checkPolicyTable(live, this.compiled, known);
      if (live !== undefined && problems.length === 0 && this.unfingerprinted.size > 0) {
        for (const [key, fp] of ruleFingerprints(live)) if (this.unfingerprinted.has(chainOf(key))) known.set(key, fp);
        this.reference = known;
        this.unfingerprinted.clear();
      }
      return { ok: problems.length === 0, problems };
    });
  }

  /** Remove the policy table (enforcement off); a table already gone is fine. */
  remove(): Promise<void> {
    return this.serial(async () => {
      await this.nft.apply(`add table ${POLICY_FAMILY} ${POLICY_TABLE}\ndelete table ${POLICY_FAMILY} ${POLICY_TABLE}\n`);
      this.compiler.forget();
      this.compiled = undefined;
      this.lastInput = undefined;
      this.reference = new Map();
      this.unfingerprinted.clear();
    });
  }
}
