/**
 * The one contract a multi-host design implements to take part in `weft lab compare`. An
 * adapter builds its network on the lab it is given and hands back endpoints on different
 * hosts, each with a way to run a command inside it; the harness does all measuring and
 * checking itself, so what an adapter claims (`claims`) is only compared with what the
 * experiments find, never copied into the report.
 *
 * To add a design: one file under adapters/ exporting a factory, one line in designs.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { ClusterLab } from '../cluster-lab.js';
import { run, type RunResult } from '../sim-host.js';
import type { CheckId, Outcome } from './compare-types.js';

export interface ExecOptions {
  timeoutMs?: number;
  input?: string;
}

/** A workload's place in a design: a network namespace with an address on the design's network. */
export interface CompareEndpoint {
  /** Unique within the run, e.g. "a", "conv-3". */
  id: string;
  /** Lab host it lives on (h1…hN). */
  host: string;
  /** Its IPv4 address on the design's network. */
  address: string;
  address6?: string;
  /** The name other endpoints would use for it (a sandbox name); the names check resolves it. */
  name: string;
  /** Run a command inside the endpoint (its network namespace, and its /etc files if it has its own). */
  exec(argv: string[], opts?: ExecOptions): Promise<RunResult>;
  /** Start a long-running command inside it; the harness kills it by its pid. */
  spawn(argv: string[]): ChildProcess;
}

/** A separate network of the same design (another tenant) with two endpoints on the main pair's hosts. */
export interface TenantNetwork {
  endpoints: [CompareEndpoint, CompareEndpoint];
  /**
   * Remove its endpoints and network now (a check that is done with it; a network on the
   * host's own subnet must not outlive its check). Teardown removes whatever is left.
   */
  remove(): Promise<void>;
}

/** Where this design's cross-host packets can be captured (for the encryption check). */
export interface CapturePoint {
  /** Network namespace name (under /run/netns). */
  ns: string;
  ifname: string;
}

/** What `setup` returns: the design running on the lab. */
export interface Deployment {
  /** At least two; [0] and [1] on different hosts unless the design is same-host. */
  endpoints: CompareEndpoint[];
  /** The main network's IPv4 subnet, if it has one (the overlap check reuses it). */
  subnet?: string;
  /** A new endpoint on `host` (for convergence, memory, churn); `n` is unique per call. */
  addEndpoint(host: string, n: number): Promise<CompareEndpoint>;
  removeEndpoint(ep: CompareEndpoint): Promise<void>;
  /**
   * Another network of this design, on `subnet`, with endpoints on the hosts of endpoints[0]
   * and [1] (at `ips` if given). Throws when the design refuses it: the error is the evidence,
   * and whatever of it was made is removed first.
   */
  addTenant?(subnet: string, ips?: [string, string]): Promise<TenantNetwork>;
  /** Where cross-host data packets cross a wire. */
  capturePoints: CapturePoint[];
  /** Ports of the design's own control plane on the underlay (gossip, BGP…); the store's 2379 is always counted. */
  controlPorts: { tcp: number[]; udp: number[] };
  /** The pid of the daemon that serves endpoints on `host`, if the design has one (memory per endpoint). */
  daemonPid(host: string): number | undefined;
  /** Remove everything setup made (endpoints, tenants, networks); keeps going and reports every error. */
  teardown(): Promise<void>;
}

export interface DesignContext {
  lab: ClusterLab;
  /** Lab hosts in order (h1…hN). */
  hosts: string[];
  /** Prefix for every name the adapter makes (networks, sandboxes, links), unique to the run. */
  prefix: string;
  log(msg: string): void;
}

/**
 * How weftd runs on every lab host for a design. The harness keeps the hosts and restarts
 * their weftd only when the next design needs another mode (designs are ordered to need few).
 */
export interface WeftdMode {
  /** --cluster-store on the lab's etcd (store-less designs run without it). */
  store: boolean;
  /** --bgp --policy (weftd's BIRD announces the hosts' blocks). */
  bgp?: boolean;
  /** Join a store-less mesh of all lab hosts; 'encrypted' adds a shared password. */
  mesh?: 'plain' | 'encrypted';
}

export interface DesignAdapter {
  /** As given to --designs: "veth", "bridge-local", "overlay", "hostsubnet:vxlan"… */
  readonly name: string;
  readonly title: string;
  /** The seed table's "Network Model" row for this design. */
  readonly model: string;
  /** The seed column this design stands for (Calico, Flannel, Weave, Docker Overlay Network). */
  readonly seedColumn?: string;
  /** Endpoints are on one host on purpose. */
  readonly sameHost: boolean;
  /** Cross-host traffic goes over the lab's underlay (false for a direct wire). */
  readonly usesUnderlay: boolean;
  /** Endpoints are lab hosts themselves, not workloads (the separate-vNIC row does not apply). */
  readonly endpointIsHost?: boolean;
  /** What the design says of itself; the checks find out. */
  readonly claims: Partial<Record<CheckId, Outcome>>;
  /** Settle time after a partition before the partial-connectivity check decides (mesh reroutes). */
  readonly partialSettleMs?: number;
  /** The weftd mode the design needs (weft drivers); undefined for designs without weftd. */
  readonly weftd?: WeftdMode;
  setup(ctx: DesignContext): Promise<Deployment>;
}

/** An endpoint that is a network namespace reached with `nsenter` (plus an optional argv prefix to enter more). */
export function nsEndpoint(
  e: Omit<CompareEndpoint, 'exec' | 'spawn'>,
  enter: string[],
  env: NodeJS.ProcessEnv = process.env,
): CompareEndpoint {
  const [cmd, ...pre] = enter;
  return {
    ...e,
    exec: (argv, opts = {}) => run(cmd!, [...pre, ...argv], { ...opts, env }),
    spawn: (argv) => spawn(cmd!, [...pre, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], env }),
  };
}
