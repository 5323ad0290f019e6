/** Sandboxes: a network namespace (new, external, the host's or another sandbox's) + endpoints. */
import path from 'node:path';
import type { ControllerContext } from './context.js';
import { runHooks } from './context.js';
import { newId, now } from './ids.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import { ConflictError, ErrorList, InvalidArgumentError, NotFoundError } from '../errors.js';
import { SandboxCreateInput, parseInput } from './inputs.js';
import { validateHostname, validateSandboxName } from '../config/dns-name.js';
import { parseAddress } from '../ipam/cidr.js';
import { json, keys } from '../store/records.js';
import { connectEndpoint, disconnectEndpoint } from './endpoint-ops.js';
import { resolveNetwork } from './network-ops.js';
import { removeSandboxFiles, sandboxDir, writeSandboxFiles } from './sandbox-files.js';
import { resolvePublications } from './port-ops.js';
import { checkAttachTarget } from './attach-target.js';
import { markPhase } from '../phase-trace.js';

/** What a create wrote: the sandbox, its endpoints and their networks (in the request's order). */
export interface CreatedSandbox {
  sandbox: SandboxRecord;
  endpoints: EndpointRecord[];
  networks: NetworkRecord[];
}

export async function resolveSandbox(ctx: ControllerContext, ref: string): Promise<SandboxRecord> {
  const id = (await ctx.records.sandboxIdByName(ref)) ?? ref;
  const direct = await ctx.records.sandbox(id);
  if (direct) return direct.value;
  if (/^[0-9a-f]{3,63}$/.test(ref)) {
    const matches = (await ctx.records.sandboxes()).filter((s) => s.id.startsWith(ref));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new InvalidArgumentError('sandbox', `"${ref}" matches ${matches.length} sandboxes; give more of the id`);
  }
  throw new NotFoundError('sandbox', ref);
}

/** The namespace path to use for a request, checked before anything is created. */
async function namespaceFor(
  ctx: ControllerContext,
  input: SandboxCreateInput,
  id: string,
): Promise<Pick<SandboxRecord, 'netnsPath' | 'pid' | 'pidStartTime' | 'containerOf'>> {
  switch (input.kind) {
    case 'netns':
      if (input.netnsPath) throw new InvalidArgumentError('netnsPath', 'only for kind "external"');
      return { netnsPath: path.join(ctx.config.runDir, 'netns', id), ...(input.pid ? pidInfo(ctx, input.pid) : {}) };
    case 'host':
      return { netnsPath: `/proc/${process.pid}/ns/net`, ...(input.pid ? pidInfo(ctx, input.pid) : {}) };
    case 'container': {
      if (!input.containerOf) throw new InvalidArgumentError('containerOf', 'required for container mode');
      const other = await resolveSandbox(ctx, input.containerOf);
      if (other.kind === 'container')
        throw new InvalidArgumentError('containerOf', `"${other.name}" itself shares another sandbox's namespace`);
      return { netnsPath: other.netnsPath, containerOf: other.id, ...(input.pid ? pidInfo(ctx, input.pid) : {}) };
    }
    case 'external': {
      if (input.pid && input.netnsPath) throw new InvalidArgumentError('netnsPath', 'give either a netns path or a pid, not both');
      if (input.pid) return { netnsPath: `/proc/${input.pid}/ns/net`, ...pidInfo(ctx, input.pid) };
      if (!input.netnsPath) throw new InvalidArgumentError('netnsPath', 'a netns path or a pid is required');
      const p = input.netnsPath;
      if (!path.isAbsolute(p) || p.split('/').includes('..'))
        throw new InvalidArgumentError('netnsPath', `"${p}" must be an absolute path without ".."`);
      return { netnsPath: p };
    }
  }
}

function pidInfo(ctx: ControllerContext, pid: number): { pid: number; pidStartTime: string } {
  const start = ctx.kernel.processStartTime(pid);
  if (start === undefined) throw new InvalidArgumentError('pid', `no process with pid ${pid}`);
  return { pid, pidStartTime: start };
}

/** Create a sandbox and connect it to its networks; on failure nothing is left. */
export async function createSandbox(ctx: ControllerContext, raw: unknown): Promise<CreatedSandbox> {
  const input = parseInput(SandboxCreateInput, raw);
  markPhase('sandbox.locked', () => ({ sandbox: input.name }));
  const id = newId();
  // Both become DNS names (embedded DNS, /etc/hosts, sethostname): checked as such.
  const name = input.name === undefined ? `sb-${id.slice(0, 12)}` : validateSandboxName('name', input.name);
  const hostname = input.hostname === undefined ? name : validateHostname('hostname', input.hostname);
  input.dns.forEach((d, i) => parseAddress(d, `dns[${i}]`));
  if (input.kind !== 'netns' && input.kind !== 'external' && input.networks.length > 0) {
    throw new InvalidArgumentError('network', `a ${input.kind}-mode sandbox cannot join networks`);
  }
  if ((await ctx.records.sandboxIdByName(name)) !== undefined)
    throw new ConflictError('name', `sandbox with name "${name}" already exists`);
  // Resolve every network and port before creating anything, so a typo changes nothing.
  const nets = await Promise.all(input.networks.map((n) => resolveNetwork(ctx, n.network)));
  const dup = nets.find((n, i) => nets.findIndex((m) => m.id === n.id) !== i);
  if (dup) throw new InvalidArgumentError('network', `network "${dup.name}" is given twice`);
  const ports = await resolvePublications(ctx, input.publish, input.publishAll, input.expose);
  if (ports.length > 0 && (input.kind === 'host' || input.kind === 'container')) {
    throw new InvalidArgumentError('publish', `ports cannot be published in ${input.kind} mode`);
  }
  const ns = await namespaceFor(ctx, input, id);
  if (input.kind === 'host') await ctx.kernel.netnsFd(ns.netnsPath);
  if (input.kind === 'external') {
    // A real network namespace, not the host's, not attached already.
    await checkAttachTarget(ctx, ns.netnsPath, input.pid ? `pid ${input.pid} (${ns.netnsPath})` : ns.netnsPath);
  }
  const dir = sandboxDir(ctx, id);
  const sb: SandboxRecord = {
    id,
    name,
    kind: input.kind,
    ...ns,
    hostsPath: path.join(dir, 'hosts'),
    resolvPath: path.join(dir, 'resolv.conf'),
    dns: input.dns,
    ...(ports.length > 0 ? { ports } : {}),
    hostname,
    labels: input.labels,
    created: now(),
  };
  markPhase('sandbox.start', () => ({ sandbox: name }));
  if (input.kind === 'netns') await ctx.kernel.createNetns(sb.netnsPath);
  markPhase('sandbox.netns', () => ({ sandbox: name }));
  const inode = ctx.kernel.netnsInode(sb.netnsPath);
  if (inode !== undefined) sb.netnsInode = inode;
  try {
    const ok = await ctx.records.store.commit({
      checks: [{ key: keys.sandboxName(name), version: 0 }],
      puts: [
        { key: keys.sandbox(id), value: json(sb) },
        { key: keys.sandboxName(name), value: json(id) },
      ],
    });
    if (!ok) throw new ConflictError('name', `sandbox with name "${name}" already exists`);
  } catch (err) {
    const undo = new ErrorList(`sandbox create ${name} failed and removing its namespace failed too`);
    undo.add(err);
    if (input.kind === 'netns') await undo.run(() => ctx.kernel.deleteNetns(sb.netnsPath));
    throw undo.combined();
  }
  const endpoints: EndpointRecord[] = [];
  try {
    for (const [i, req] of input.networks.entries()) {
      endpoints.push(
        await connectEndpoint(
          ctx,
          sb,
          nets[i]!,
          {
            aliases: req.aliases,
            ipv4: req.ipv4,
            ipv6: req.ipv6,
            mac: req.mac,
            ifname: req.ifname,
          },
          { filesByCaller: true },
        ),
      );
    }
    // From the records just written: the files must exist before the command starts, and
    // reading them back from the stores (etcd for global networks) would only delay the reply.
    await writeSandboxFiles(ctx, sb, { endpoints, networks: nets });
    markPhase('sandbox.created', () => ({ sandbox: name }));
  } catch (err) {
    const undo = new ErrorList(`sandbox create ${name} failed and its rollback failed too`);
    undo.add(err);
    await undo.run(() => removeSandbox(ctx, sb));
    throw undo.combined();
  }
  return { sandbox: sb, endpoints, networks: nets };
}

/**
 * Tear down every endpoint, then the namespace if weft made it, the files and the records.
 * Every endpoint is tried even when one fails, and every failure is reported. The sandbox
 * itself goes only once nothing of it is left in the kernel: a failed removal leaves the
 * records of what still exists, so the store never forgets a live object and `rm` can be
 * run again.
 */
export async function removeSandbox(ctx: ControllerContext, sb: SandboxRecord): Promise<void> {
  const errors = new ErrorList(`sandbox rm ${sb.name}`);
  for (const ep of await ctx.records.endpointsOfSandbox(sb.id)) {
    await errors.run(() => disconnectEndpoint(ctx, ep, sb, { sandboxGoing: true }));
  }
  errors.throwIfAny();
  await errors.run(() => runHooks(ctx, 'sandboxDown', sb));
  ctx.kernel.forget(sb.netnsPath);
  if (sb.kind === 'netns' && !(await errors.run(() => ctx.kernel.deleteNetns(sb.netnsPath)))) errors.throwIfAny();
  await errors.run(() => removeSandboxFiles(ctx, sb.id));
  const cur = await ctx.records.sandboxIdByName(sb.name);
  await ctx.records.store.commit({ deletes: [keys.sandbox(sb.id), ...(cur === sb.id ? [keys.sandboxName(sb.name)] : [])] });
  errors.throwIfAny();
}

/** Record the process whose life is the sandbox's life (weft run hands over its child). */
export async function setSandboxPid(ctx: ControllerContext, sb: SandboxRecord, pid: number): Promise<SandboxRecord> {
  const cur = await ctx.records.sandbox(sb.id);
  if (!cur) throw new NotFoundError('sandbox', sb.name);
  // Only weft's own sandboxes get a command; an attached namespace's processes are not weft's.
  if (cur.value.kind === 'external')
    throw new InvalidArgumentError('pid', `sandbox "${sb.name}" is an attached namespace; weft does not run its processes`);
  const updated: SandboxRecord = { ...cur.value, ...pidInfo(ctx, pid), managedProcess: true };
  await ctx.records.commitOrConflict(
    { checks: [{ key: keys.sandbox(sb.id), version: cur.version }], puts: [{ key: keys.sandbox(sb.id), value: json(updated) }] },
    'sandbox update',
  );
  return updated;
}

/**
 * Whether the sandbox still exists in the world: its process (if it has one) runs, and its
 * namespace is the one recorded.
 */
export function sandboxAlive(ctx: ControllerContext, sb: SandboxRecord): boolean {
  if (sb.pid !== undefined && !ctx.kernel.isAlive(sb.pid, sb.pidStartTime)) return false;
  if (sb.kind === 'host') return true;
  if (sb.kind === 'container') return true;
  const ino = ctx.kernel.netnsInode(sb.netnsPath);
  return ino !== undefined && (sb.netnsInode === undefined || ino === sb.netnsInode);
}
