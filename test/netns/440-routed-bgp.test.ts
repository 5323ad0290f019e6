/**
 * The routed driver end to end on three hosts, Calico's way: no bridge, no overlay, no static
 * route between hosts. Each host (its own namespace on one L2 underlay) runs a cluster agent on
 * a real etcd, weftd's BGP service (a real BIRD announcing the host's IPAM blocks, full iBGP
 * mesh) and the routed driver; workloads on different hosts reach each other (ping, TCP) only
 * through routes BIRD learned. A host that dies (its processes killed) has its block withdrawn
 * from the others within a bound. Figures are printed as "# figure …".
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Rtnl } from '../../src/kernel/netlink/rtnl.js';
import { resolveBird } from '../../src/kernel/bird-binary.js';
import { DriverRegistry } from '../../src/drivers/registry.js';
import { IFNAMES } from '../../src/drivers/ifnames.js';
import { deleteNetnsWithProcesses, mustRun, NETTOOL, REPO, run, sleep, waitFor, WEFT, WEFTD } from '../../src/lab/sim-host.js';
import { killAndWait } from '../../src/lab/etcd-process.js';
import { EtcdHarness } from './etcd-harness.js';
import { birdRoutes, waitBirdRoute, waitNoBirdRoute } from './bgp-topology.js';
import { DB_INGRESS_POLICY } from './routed-policies.js';

const sfx = randomBytes(2).toString('hex');
const POOL = '10.43.0.0/16';
const SW = `rt-sw-${sfx}`;
const HOSTS = [1, 2, 3].map((i) => ({ name: `h${i}`, ns: `rt-h${i}-${sfx}`, address: `198.18.43.${10 + i}` }));
const CHILD = path.join(REPO, 'dist/test/netns/routed-host-child.js');
const figure = (name: string, value: string): void => void process.stdout.write(`# figure ${name}: ${value}\n`);

const etcd = new EtcdHarness();
const dir = mkdtempSync('/tmp/rt-430-');
const namespaces: string[] = [SW];
const prefix = '/weft/v1/'; // weftd's own prefix: the control host below is a real weftd
const CTL = { ns: `rt-ctl-${sfx}`, address: '198.18.43.10' };
let ctlPid: number | undefined;

interface Host {
  name: string;
  ns: string;
  address: string;
  child?: ChildProcessWithoutNullStreams;
  birdPid?: number;
  exitError?: Error;
  rtnl?: Rtnl;
  send?: (req: Record<string, unknown>) => Promise<unknown>;
}
const hosts: Host[] = HOSTS.map((h) => ({ ...h }));

async function startHost(h: Host): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, WEFT_ROUTED_CHILD: '1' };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(
    'nsenter',
    [`--net=/run/netns/${h.ns}`, process.execPath, CHILD, etcd.url, prefix, h.name, h.address, path.join(dir, h.name), POOL],
    { env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  h.child = child;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const waiting = new Map<number, (v: { ok: boolean; result?: unknown; error?: string }) => void>();
  let nextId = 1;
  let onReady!: (v: { birdPid: number }) => void;
  const ready = new Promise<{ birdPid: number }>((r) => (onReady = r));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const m = JSON.parse(line) as { ready?: boolean; birdPid: number; id: number; ok: boolean; result?: unknown; error?: string };
    if (m.ready) onReady(m);
    else waiting.get(m.id)?.(m);
  });
  const exited = new Promise<never>((_, reject) => child.on('exit', (code) => reject(new Error(`${h.name} exited ${code}: ${stderr}`))));
  // Observed through the races below; recorded here so an exit with no request pending is not an unhandled rejection.
  exited.catch((e: unknown) => {
    h.exitError = e as Error;
  });
  const t = setTimeout(() => child.kill('SIGKILL'), 90_000);
  h.birdPid = (await Promise.race([ready, exited])).birdPid;
  clearTimeout(t);
  h.send = async (req) => {
    const id = nextId++;
    const reply = await Promise.race([
      new Promise<{ ok: boolean; result?: unknown; error?: string }>((r) => {
        waiting.set(id, r);
        child.stdin.write(JSON.stringify({ ...req, id }) + '\n');
      }),
      exited,
      sleep(20_000).then(() => {
        throw new Error(`${h.name}: no answer to ${JSON.stringify(req)}`);
      }),
    ]);
    if (!reply.ok) throw new Error(`${h.name}: ${reply.error}`);
    return reply.result;
  };
  h.rtnl = await Rtnl.open(`/run/netns/${h.ns}`);
}

async function addWorkload(name: string): Promise<string> {
  const ns = `rt-${name}-${sfx}`;
  namespaces.push(ns);
  await mustRun('ip', ['netns', 'add', ns]);
  await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return `/run/netns/${ns}`;
}

const inNs = (nsPath: string, argv: string[], timeoutMs = 10_000) => run('nsenter', [`--net=${nsPath}`, ...argv], { timeoutMs });
const ping = (nsPath: string, to: string) => inNs(nsPath, ['busybox', 'ping', '-c', '1', '-W', '1', to]);
const epId = () => randomBytes(32).toString('hex');

before(async () => {
  await etcd.start();
  await mustRun('ip', ['netns', 'add', SW]);
  await mustRun('ip', ['-n', SW, 'link', 'add', 'br0', 'type', 'bridge']);
  await mustRun('ip', ['-n', SW, 'link', 'set', 'br0', 'up']);
  for (const h of [...hosts, { name: 'ctl', ...CTL }]) {
    namespaces.push(h.ns);
    await mustRun('ip', ['netns', 'add', h.ns]);
    await mustRun('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up']);
    await mustRun('ip', ['-n', h.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `p-${h.name}`, 'netns', SW]);
    await mustRun('ip', ['-n', SW, 'link', 'set', `p-${h.name}`, 'master', 'br0', 'up']);
    await mustRun('ip', ['-n', h.ns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
    await mustRun('ip', ['-n', h.ns, 'link', 'set', 'eth0', 'up']);
  }
  await Promise.all([...hosts.map((h) => startHost(h)), startCtl()]);
});

/** A real weftd on a fourth host: --bgp (it joins the mesh) and --policy; the CLI talks to it. */
async function startCtl(): Promise<void> {
  const d = path.join(dir, 'ctl');
  const log = path.join(dir, 'ctl.log');
  const fd = openSync(log, 'a');
  const env: NodeJS.ProcessEnv = { ...process.env, WEFT_LOG: 'info' };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${CTL.ns}`,
      process.execPath,
      WEFTD,
      ...['--state-dir', `${d}/state`, '--run-dir', `${d}/run`, '--firewall', 'none', '--docker-plugin-socket', ''],
      ...['--cluster-store', etcd.url, '--host-name', 'ctl', '--advertise-addr', CTL.address, '--bgp', '--policy'],
    ],
    { stdio: ['ignore', fd, fd], env },
  );
  closeSync(fd);
  ctlPid = child.pid;
  await waitFor(
    `weftd on ctl answers (log ${log})`,
    async () => {
      if (child.exitCode !== null) throw new Error(`weftd on ctl exited: ${readFileSync(log, 'utf8').slice(-2000)}`);
      return existsSync(`${d}/run/weft.sock`) && (await weft(['host', 'ls', '-q'])).code === 0 ? true : undefined;
    },
    90_000, // four Node processes start at once on a small, shared machine
    200,
  );
}

/** `weft ARGS` on the control host, as a user there would run it. */
function weft(args: string[], input?: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, WEFT_HOST: `unix://${path.join(dir, 'ctl/run/weft.sock')}` };
  delete env.NODE_TEST_CONTEXT;
  return run('nsenter', [`--net=/run/netns/${CTL.ns}`, process.execPath, WEFT, ...args], {
    timeoutMs: 20_000,
    env,
    ...(input ? { input } : {}),
  });
}

after(async () => {
  if (ctlPid) await killAndWait(ctlPid);
  for (const h of hosts) {
    h.rtnl?.close();
    if (h.child?.pid && h.child.exitCode === null) await killAndWait(h.child.pid);
  }
  await deleteNetnsWithProcesses([...namespaces].reverse()); // BIRD and workloads die with their namespaces' processes
  await etcd.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('routed driver: 3 hosts, BGP-learned routes only', { timeout: 600_000 }, () => {
  const w: Record<string, { nsPath: string; id: string; address: string; block: string }> = {};

  it('the routed driver is registered and BIRD is installed', () => {
    assert.equal(new DriverRegistry().get('routed').scope, 'global');
    assert.ok(resolveBird().length > 0);
  });

  it('workloads get /32s from their host blocks; every host learns the others blocks from BIRD', async () => {
    for (const [name, host, role] of [
      ['w1', hosts[0]!, 'web'],
      ['w1b', hosts[0]!, 'other'],
      ['w2', hosts[1]!, 'db'],
      ['w3', hosts[2]!, 'misc'],
    ] as const) {
      const nsPath = await addWorkload(name);
      const id = epId();
      const r = (await host.send!({ op: 'attach', endpoint: id, netns: nsPath, labels: { role } })) as {
        address: string;
        block: string;
        borrowed: boolean;
      };
      assert.equal(r.borrowed, false);
      w[name] = { nsPath, id, ...r };
    }
    assert.equal(w.w1!.block, w.w1b!.block, 'two workloads on one host share its block');
    assert.notEqual(w.w1!.block, w.w2!.block);
    // The host side: no bridge, the fixed gateway MAC, a /32 route to the workload.
    const h1 = hosts[0]!.rtnl!;
    const hostIf = h1.link(IFNAMES.routedVeth.of(w.w1!.id))!;
    assert.ok(hostIf, 'host-side veth exists');
    assert.equal(hostIf.master, undefined);
    assert.equal(hostIf.mac, 'ee:ee:ee:ee:ee:ee');
    assert.ok(h1.routes(4, 254).some((r) => r.dst === `${w.w1!.address}/32` && r.oif === hostIf.index));
    assert.equal(h1.links().filter((l) => l.kind === 'bridge').length, 0, 'no bridge on a routed host');
    // The workload side: its /32 and a default route through 169.254.1.1.
    const inner = await Rtnl.open(w.w1!.nsPath);
    try {
      assert.deepEqual(
        inner.addresses(inner.link('eth0')!.index, 4).map((a) => a.cidr),
        [`${w.w1!.address}/32`],
      );
      assert.ok(inner.routes(4, 254).some((r) => r.dst === '0.0.0.0/0' && r.gateway === '169.254.1.1'));
    } finally {
      inner.close();
    }
    const t0 = Date.now();
    for (const h of hosts) {
      for (const [name, owner] of [
        ['w1', 0],
        ['w2', 1],
        ['w3', 2],
      ] as const) {
        if (hosts[owner] === h) {
          await waitBirdRoute(h.rtnl!, 4, w[name]!.block, 'blackhole', 20_000);
        } else {
          await waitBirdRoute(h.rtnl!, 4, w[name]!.block, hosts[owner]!.address, 20_000);
        }
      }
    }
    figure('routed: all blocks in all kernels after attach (ms)', String(Date.now() - t0));
    // Nothing but BIRD and the driver routes pool addresses: no static route between hosts.
    for (const h of hosts) {
      const foreign = h.rtnl!.routes(4, 254).filter((r) => r.dst.startsWith('10.43.') && r.protocol !== 12 && !r.dst.endsWith('/32'));
      assert.deepEqual(foreign, [], `${h.name} has pool routes not from BIRD`);
    }
    for (const h of hosts) {
      const peers = (await h.send!({ op: 'peers' })) as { established: boolean; peer: string }[];
      assert.equal(peers.length, 3, `${h.name} has a session to each other host (h1-h3 and ctl)`);
      assert.ok(peers.every((p) => p.established));
    }
  });

  it('workloads on different hosts talk (ICMP, TCP) and on the same host too', async () => {
    for (const [from, to] of [
      ['w1', 'w2'],
      ['w1', 'w3'],
      ['w2', 'w3'],
      ['w3', 'w1'],
      ['w1', 'w1b'],
    ] as const) {
      const r = await ping(w[from]!.nsPath, w[to]!.address);
      assert.equal(r.code, 0, `ping ${from} → ${to}: ${r.stdout}${r.stderr}`);
    }
    const server = spawn('nsenter', [`--net=${w.w3!.nsPath}`, process.execPath, NETTOOL, 'tcp-server', '7000'], { stdio: 'ignore' });
    try {
      await sleep(300);
      const r = await waitFor(
        'TCP w1 → w3',
        async () => {
          const x = await inNs(w.w1!.nsPath, [process.execPath, NETTOOL, 'tcp-client', w.w3!.address, '7000', 'hello']);
          return x.code === 0 ? x : undefined;
        },
        10_000,
        200,
      );
      assert.equal(r.stdout.trim(), `${w.w1!.address} hello`, 'w3 sees w1 by its own address: no NAT on the way');
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('weft bgp peers|routes on a real weftd --bgp: sessions to the three hosts, their blocks learned', async () => {
    const peers = await waitFor(
      'ctl has 3 Established sessions',
      async () => {
        const r = await weft(['bgp', 'peers', '--format', 'json']);
        assert.equal(r.code, 0, r.stderr);
        const rows = r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { neighborAddress: string; state: string });
        return rows.length === 3 && rows.every((x) => x.state === 'Established') ? rows : undefined;
      },
      20_000,
      200,
    );
    assert.deepEqual(peers.map((p) => p.neighborAddress).sort(), hosts.map((h) => h.address).sort());
    const table = await weft(['bgp', 'peers']);
    assert.match(table.stdout, /PEER\s+ADDRESS\s+AS\s+KIND\s+STATE/);
    const routes = await weft(['bgp', 'routes', '--format', 'json']);
    assert.equal(routes.code, 0, routes.stderr);
    const nets = routes.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { net: string }).net);
    for (const name of ['w1', 'w2', 'w3']) assert.ok(nets.includes(w[name]!.block), `ctl's BIRD has ${w[name]!.block}`);
  });

  const tcp = async (from: string, to: string, port: number): Promise<boolean> =>
    (await inNs(w[from]!.nsPath, [process.execPath, NETTOOL, 'tcp-client', w[to]!.address, String(port), 'x', '1500'])).code === 0;
  const icmp = async (from: string, to: string): Promise<boolean> => (await ping(w[from]!.nsPath, w[to]!.address)).code === 0;

  it('a policy created with `weft policy create` on ctl is enforced on the other hosts (real probes)', async () => {
    const servers = [
      spawn('nsenter', [`--net=${w.w2!.nsPath}`, process.execPath, NETTOOL, 'tcp-server', '5432,8080'], { stdio: 'ignore' }),
      spawn('nsenter', [`--net=${w.w3!.nsPath}`, process.execPath, NETTOOL, 'tcp-server', '7000'], { stdio: 'ignore' }),
    ];
    try {
      await waitFor(
        'servers up',
        async () => ((await tcp('w1', 'w2', 5432)) && (await tcp('w1', 'w3', 7000)) ? true : undefined),
        10_000,
        200,
      );
      const before = {
        webDb5432: await tcp('w1', 'w2', 5432),
        webDb8080: await tcp('w1', 'w2', 8080),
        otherDb5432: await tcp('w1b', 'w2', 5432),
        otherMisc7000: await tcp('w1b', 'w3', 7000),
        otherMiscIcmp: await icmp('w1b', 'w3'),
      };
      assert.deepEqual(Object.values(before), [true, true, true, true, true], 'everything flows before any policy');
      const file = path.join(dir, 'policies.yaml');
      writeFileSync(
        file,
        `${DB_INGRESS_POLICY}---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: other-egress
spec:
  order: 20
  selector: role == 'other'
  types: [Egress]
  egress:
    - action: Allow
      protocol: ICMP
`,
      );
      const t0 = Date.now();
      const created = await weft(['policy', 'create', '-f', file]);
      assert.equal(created.code, 0, created.stderr);
      assert.deepEqual(created.stdout.trim().split('\n'), ['db-ingress', 'other-egress']);
      // Enforced on h2 (ingress of db) and h1 (egress of other): wait for both, bounded.
      await waitFor('db-ingress enforced on h2', async () => ((await tcp('w1', 'w2', 8080)) ? undefined : true), 10_000, 50);
      await waitFor('other-egress enforced on h1', async () => ((await tcp('w1b', 'w3', 7000)) ? undefined : true), 10_000, 50);
      figure('policy: weft policy create → denied flows blocked on both other hosts (ms, incl. probe timeouts)', String(Date.now() - t0));
      const after = {
        webDb5432: await tcp('w1', 'w2', 5432),
        webDb8080: await tcp('w1', 'w2', 8080),
        otherDb5432: await tcp('w1b', 'w2', 5432),
        otherMisc7000: await tcp('w1b', 'w3', 7000),
        otherMiscIcmp: await icmp('w1b', 'w3'),
        webMisc7000: await tcp('w1', 'w3', 7000),
      };
      assert.deepEqual(after, {
        webDb5432: true, // allowed by db-ingress
        webDb8080: false, // db is selected: default deny for other ports
        otherDb5432: false, // denied by other's egress (and by db's ingress)
        otherMisc7000: false, // other may only send ICMP
        otherMiscIcmp: true, // …which it may
        webMisc7000: true, // neither selected: untouched
      });
      const ls = await weft(['policy', 'ls']);
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /db-ingress\s+GlobalNetworkPolicy\s+\*\s+10\s+role == "db"\s+Ingress/);
      const inspect = await weft(['policy', 'inspect', 'db-ingress']);
      assert.equal((JSON.parse(inspect.stdout) as { spec: { selector: string } }[])[0]!.spec.selector, 'role == "db"');
      // Bad input: every problem named, nothing stored.
      const bad = path.join(dir, 'bad.yaml');
      writeFileSync(
        bad,
        "name: broken\nselector: role == \ningress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: ['2000:1000']\n",
      );
      const refused = await weft(['policy', 'create', '-f', bad]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /selector/);
      assert.match(refused.stderr, /reversed/);
      assert.equal((await weft(['policy', 'ls', '-q'])).stdout.trim().split('\n').length, 2, 'nothing stored');
      const rm = await weft(['policy', 'rm', 'db-ingress', 'other-egress']);
      assert.equal(rm.code, 0, rm.stderr);
      await waitFor(
        'policies lifted',
        async () => ((await tcp('w1', 'w2', 8080)) && (await tcp('w1b', 'w3', 7000)) ? true : undefined),
        10_000,
        50,
      );
      assert.equal((await weft(['policy', 'inspect', 'db-ingress'])).code === 0, false, 'gone');
    } finally {
      for (const s of servers) s.kill('SIGKILL');
    }
  });

  it('invariants hold; a second join changed nothing', async () => {
    for (const [name, host] of [
      ['w1', hosts[0]!],
      ['w2', hosts[1]!],
    ] as const) {
      assert.deepEqual(await host.send!({ op: 'check', endpoint: w[name]!.id }), []);
    }
  });

  it("a dead host's block is withdrawn from the others, and its workloads become unreachable", async () => {
    const h3 = hosts[2]!;
    const t0 = Date.now();
    // A host's death: everything in its namespace stops (weftd's stand-in and BIRD).
    await killAndWait(h3.child!.pid!);
    if (h3.birdPid) await killAndWait(h3.birdPid);
    await Promise.all([hosts[0]!, hosts[1]!].map((h) => waitNoBirdRoute(h.rtnl!, 4, w.w3!.block, 15_000)));
    figure('routed: dead host (weftd + BIRD killed) → its block gone from both other kernels (ms)', String(Date.now() - t0));
    assert.equal(birdRoutes(hosts[0]!.rtnl!, 4, w.w3!.block).length, 0);
    const r = await ping(w.w1!.nsPath, w.w3!.address);
    assert.notEqual(r.code, 0, 'w3 unreachable once its host is gone');
    // The survivors still reach each other.
    assert.equal((await ping(w.w1!.nsPath, w.w2!.address)).code, 0);
  });

  it('leave removes the host side and its route; leave twice is fine', async () => {
    await hosts[0]!.send!({ op: 'leave', endpoint: w.w1b!.id });
    const h1 = hosts[0]!.rtnl!;
    assert.equal(h1.link(IFNAMES.routedVeth.of(w.w1b!.id)), undefined);
    assert.ok(!h1.routes(4, 254).some((r) => r.dst === `${w.w1b!.address}/32`));
    assert.equal((await ping(w.w1!.nsPath, w.w2!.address)).code, 0, 'the others keep working');
  });
});
