/**
 * Helpers for the mesh tests that drive weftd through a `weft lab up --mesh` lab (430, 432):
 * the CLI, sandboxes made with `weft run`, underlay cuts by nft and an underlay capture.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { run, sleep, waitFor } from '../../src/lab/sim-host.js';
import type { MeshStatus } from '../../src/mesh/router/status.js';

/** MESH_LAB_PREFIX (default "msh") starts the name, so parallel users of one machine never collide. */
export const labName = (): string => `${process.env.MESH_LAB_PREFIX ?? 'msh'}${randomBytes(3).toString('hex')}`.slice(0, 8);
export const RANGE = '10.32.0.0/12';
export const MARKER = 'weft-mesh-marker-5b1e';

export interface Box {
  host: string;
  name: string;
  pid: number;
  netns: string;
  ip: string;
}

/**
 * `weft lab up --mesh` with `hosts` weftd peers (no etcd) and `weftdArgs`, once every peer has
 * an established link to every other and its sleeve up; the lab is removed if that does not
 * happen within `timeoutMs`.
 */
export async function meshWeftdLab(hosts: number, weftdArgs: string[], timeoutMs: number): Promise<ClusterLab> {
  const lab = await ClusterLab.up({ hosts, underlay: 'l2', mesh: true, name: labName(), weftdArgs });
  try {
    await waitFor(
      `${hosts} peers linked`,
      async () => {
        for (let i = 1; i <= hosts; i++) {
          const s = await status(lab, `h${i}`);
          if (s.connections.filter((c) => c.established).length !== hosts - 1 || !s.sleeve) return false;
        }
        return true;
      },
      timeoutMs,
    );
    return lab;
  } catch (err) {
    await lab.down();
    throw err;
  }
}

export async function weftOk(lab: ClusterLab, host: string, args: string[]): Promise<string> {
  const r = await lab.weft(host, args, 60_000);
  if (r.code !== 0) throw new Error(`weft ${args.join(' ')} on ${host}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The network's id on a host, or undefined when it has none by that name. */
export async function netId(lab: ClusterLab, host: string, name: string): Promise<string | undefined> {
  const r = await lab.weft(host, ['network', 'inspect', name]);
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as { Id: string }[])[0]?.Id;
}

export const status = async (lab: ClusterLab, host: string): Promise<MeshStatus> =>
  JSON.parse(await weftOk(lab, host, ['mesh', 'status', '--format', 'json'])) as MeshStatus;

export async function runBox(lab: ClusterLab, host: string, name: string): Promise<Box> {
  const out = await weftOk(lab, host, ['run', '-d', '--name', name, '--network', 'meshnet', '--format', 'json', '--', 'sleep', '600']);
  const v = JSON.parse(out) as { pid: number; netnsPath: string; endpoints: { ipv4?: string }[] };
  return { host, name, pid: v.pid, netns: v.netnsPath, ip: v.endpoints[0]!.ipv4!.split('/')[0]! };
}

export const inBox = (b: Box, argv: string[], timeoutMs = 20_000) => run('nsenter', [`--net=${b.netns}`, ...argv], { timeoutMs });
export const pingOk = async (from: Box, to: string): Promise<boolean> =>
  (await inBox(from, ['busybox', 'ping', '-c', '2', '-W', '2', to])).code === 0;

/** Routes on a host's mesh VXLAN device (the fast path), as "cidr via gateway". */
export async function fastRoutes(lab: ClusterLab, host: string): Promise<string[]> {
  const links = JSON.parse((await lab.exec(host, ['ip', '-j', 'link', 'show', 'type', 'vxlan'])).stdout || '[]') as { ifname: string }[];
  const dev = links.find((l) => l.ifname.startsWith('wmx'));
  if (!dev) return [];
  const routes = JSON.parse((await lab.exec(host, ['ip', '-j', 'route', 'show', 'dev', dev.ifname])).stdout || '[]') as {
    dst: string;
    gateway?: string;
  }[];
  return routes.map((r) => `${r.dst} via ${r.gateway ?? '-'}`);
}

/** Packets the host's sleeve moved between its TUN device and the mesh (both directions). */
export async function sleevePackets(lab: ClusterLab, host: string): Promise<number> {
  const s = await status(lab, host);
  return (s.sleeve?.rxPackets ?? 0) + (s.sleeve?.txPackets ?? 0);
}

export const ping20 = async (from: Box, to: string): Promise<void> => {
  const r = await inBox(from, ['busybox', 'ping', '-c', '20', '-i', '0.05', '-W', '2', to]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
};

export function killBoxes(boxes: Box[]): void {
  for (const b of boxes) {
    try {
      process.kill(b.pid, 'SIGKILL');
    } catch {
      /* already gone: the sandbox's command exited */
    }
  }
}

/** nft rules in a lab host's namespace dropping everything to and from `peer` (its own table, removed by name). */
export async function cut(lab: ClusterLab, host: string, peer: string): Promise<void> {
  const rules = `table inet mshcut {\n chain in { type filter hook input priority -10; ip saddr ${peer} drop; }\n chain out { type filter hook output priority -10; ip daddr ${peer} drop; }\n}\n`;
  const r = await lab.exec(host, ['nft', '-f', '-'], { input: rules });
  assert.equal(r.code, 0, r.stderr);
}
export const heal = async (lab: ClusterLab, host: string): Promise<void> => {
  const r = await lab.exec(host, ['nft', 'delete', 'table', 'inet', 'mshcut']);
  assert.equal(r.code, 0, r.stderr);
};

/** Capture the lab switch's ports while `fn` runs; true when the marker shows up in any captured byte. */
export async function markerOnUnderlay(lab: ClusterLab, fn: () => Promise<void>): Promise<boolean> {
  const sw = `wl-${lab.state.name}-sw`;
  const file = path.join(lab.state.dir, `cap-${randomBytes(3).toString('hex')}.pcap`);
  const dump: ChildProcess = spawn(
    'nsenter',
    [`--net=/run/netns/${sw}`, 'tcpdump', '--immediate-mode', '-i', 'any', '-U', '-n', '-w', file, 'udp'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  dump.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  try {
    await waitFor('tcpdump listening', () => err.includes('listening on'), 20_000);
    await sleep(500);
    await fn();
    await sleep(1000);
  } finally {
    dump.kill('SIGINT');
    await new Promise((r) => dump.once('exit', r));
  }
  assert.ok(existsSync(file), `capture written (${err})`);
  const bytes = readFileSync(file);
  assert.ok(bytes.length > 1000, 'the capture saw traffic');
  return bytes.includes(Buffer.from(MARKER));
}

/** Send the marker as UDP payloads from one sandbox to another's address. */
export const sendMarker = (from: Box, to: string): Promise<unknown> =>
  inBox(from, [
    process.execPath,
    '-e',
    `const s=require('dgram').createSocket('udp4');let n=0;const t=setInterval(()=>{s.send(${JSON.stringify(MARKER.repeat(8))},9999,${JSON.stringify(to)});if(++n===20){clearInterval(t);s.close();}},20);`,
  ]);
