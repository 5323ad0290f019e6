/** Each sandbox's own /etc/hosts and /etc/resolv.conf, kept under the runtime directory. */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { logOf, type ControllerContext } from './context.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import { parseResolvConf, type ResolvConf } from '../dns/upstreams.js';
import { sandboxHosts, sandboxResolvConf } from '../dns/resolv-conf.js';

export const sandboxDir = (ctx: ControllerContext, id: string): string => path.join(ctx.config.runDir, 'sandboxes', id);

let hostResolvCache: { mtimeMs: number; value: ResolvConf } | undefined;

/** The host's resolv.conf, parsed (cached by mtime: it is read on every join). */
function hostResolv(): ResolvConf {
  let mtimeMs = -1;
  try {
    mtimeMs = statSync('/etc/resolv.conf').mtimeMs;
  } catch {
    /* no resolv.conf */
  }
  if (hostResolvCache?.mtimeMs === mtimeMs) return hostResolvCache.value;
  let text = '';
  try {
    text = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    /* none */
  }
  hostResolvCache = { mtimeMs, value: parseResolvConf(text) };
  return hostResolvCache.value;
}

/** Whether the embedded DNS serves a network: user-defined bridge and overlay networks, as in Docker (and mesh). */
export const hasEmbeddedDns = (n: NetworkRecord): boolean =>
  (n.driver === 'bridge' || n.driver === 'mesh' || n.driver === 'overlay') && !n.predefined;

/**
 * Embedded DNS answers on the gateway of user-defined bridge networks; a sandbox on such a
 * network gets that gateway as its resolver (seed 003: automatic DNS between containers).
 */
export function embeddedDnsServers(nets: NetworkRecord[]): string[] {
  return nets.filter(hasEmbeddedDns).flatMap((n) => n.ipam.config.filter((p) => !p.subnet.includes(':')).map((p) => p.gateway));
}

/** Content last written per path, so an unchanged file is not rewritten. */
const written = new Map<string, string>();

/**
 * Replace the file atomically (a process reading it never sees half a file). Small and on the
 * hot path of every join, so done synchronously: cheaper than the promise API's round trips.
 */
function atomicWrite(file: string, text: string): void {
  if (written.get(file) === text) return;
  const tmp = `${file}.tmp${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, file);
  written.set(file, text);
}

/** Sandboxes removed since their files were last scheduled: a late write must not revive them. */
const removed = new Set<string>();

/**
 * (Re)write hosts and resolv.conf for a sandbox from its current endpoints: read from the
 * stores, or `known` when the caller has just written them (a create).
 */
export async function writeSandboxFiles(
  ctx: ControllerContext,
  sb: SandboxRecord,
  known?: { endpoints: EndpointRecord[]; networks: NetworkRecord[] },
): Promise<void> {
  if (!sb.hostsPath || !sb.resolvPath) return;
  const eps = known?.endpoints ?? (await ctx.records.endpointsOfSandbox(sb.id));
  const nets =
    known?.networks ?? (await Promise.all(eps.map((e) => ctx.records.network(e.networkId)))).flatMap((n) => (n ? [n.value] : []));
  const addresses = eps
    .flatMap((e) => [e.ipv4, e.ipv6])
    .filter((a): a is string => !!a)
    .map((a) => a.split('/')[0]!);
  // Synchronous from here on: nothing can remove the sandbox between this check and the writes.
  if (removed.has(sb.id)) return;
  mkdirSync(path.dirname(sb.hostsPath), { recursive: true, mode: 0o755 });
  atomicWrite(sb.hostsPath, sandboxHosts({ hostname: sb.hostname, name: sb.name, addresses }));
  atomicWrite(sb.resolvPath, sandboxResolvConf({ embedded: embeddedDnsServers(nets), dns: sb.dns, host: hostResolv() }));
}

const pending = new Map<string, SandboxRecord>();

/**
 * After a connect/disconnect the files are rewritten just after the reply, coalesced per
 * sandbox: the process already runs and reads them lazily, and the join's latency should be
 * the network's, not the disk's. (A new sandbox's files are written before it starts.)
 */
export function scheduleSandboxFiles(ctx: ControllerContext, sb: SandboxRecord): void {
  if (pending.has(sb.id)) return;
  pending.set(sb.id, sb);
  setImmediate(() => {
    pending.delete(sb.id);
    writeSandboxFiles(ctx, sb).catch((err: unknown) =>
      logOf(ctx).warn({ sandbox: sb.name, err: (err as Error).message }, 'rewriting the sandbox hosts/resolv.conf failed'),
    );
  });
}

export async function removeSandboxFiles(ctx: ControllerContext, id: string): Promise<void> {
  const dir = sandboxDir(ctx, id);
  removed.add(id);
  // Ids are never reused; forget them once no scheduled write can still be in flight.
  setTimeout(() => removed.delete(id), 60_000).unref();
  pending.delete(id);
  for (const f of ['hosts', 'resolv.conf']) written.delete(path.join(dir, f));
  await rm(dir, { recursive: true, force: true });
}
