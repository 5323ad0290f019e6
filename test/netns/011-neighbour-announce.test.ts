/**
 * Neighbour announcements on the real kernel: a sandbox that asked for an address nobody held
 * (its entry INCOMPLETE/FAILED) learns the address's MAC from one gratuitous ARP or unsolicited
 * NA sent by the bridge (RealKernel.announceNeighbours), for IPv4 and IPv6 — so Linux accepts
 * the frames as built — and an announcement for an address it never asked about creates
 * nothing. Everything lives in namespaces this test makes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { RealKernel } from '../../src/kernel/real-kernel.js';
import { stopNetnsWorker } from '../../src/kernel/netns.js';

const exec = promisify(execFile);
const tag = randomBytes(3).toString('hex');
const host = `weft-ann-h-${tag}`;
const client = `weft-ann-c-${tag}`;
const OWNER_MAC = '02:42:0a:4d:00:09';
const ip = (ns: string, ...args: string[]) => exec('ip', ['-n', ns, ...args], { timeout: 5000 });

interface Neigh {
  dst: string;
  lladdr?: string;
  state?: string[];
}
const neighbours = async (): Promise<Neigh[]> => {
  const [v4, v6] = await Promise.all(
    ['-4', '-6'].map(async (f) => JSON.parse((await ip(client, '-j', f, 'neigh', 'show', 'dev', 'eth0')).stdout || '[]') as Neigh[]),
  );
  return [...v4!, ...v6!];
};

describe('kernel: neighbour announcements', () => {
  const kernel = new RealKernel();
  const hostPath = `/run/netns/${host}`;

  before(async () => {
    await exec('ip', ['netns', 'add', host]);
    await exec('ip', ['netns', 'add', client]);
    await ip(host, 'link', 'add', 'br0', 'type', 'bridge');
    await ip(host, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client);
    await ip(host, 'link', 'set', 'p0', 'master', 'br0', 'up');
    await ip(host, 'link', 'set', 'br0', 'up');
    await ip(client, 'addr', 'add', '10.77.0.2/24', 'dev', 'eth0');
    await ip(client, 'addr', 'add', 'fd77::2/64', 'dev', 'eth0', 'nodad');
    await ip(client, 'link', 'set', 'eth0', 'up');
  });

  after(async () => {
    kernel.forget(hostPath);
    await stopNetnsWorker();
    for (const ns of [client, host])
      await exec('ip', ['netns', 'del', ns]).catch((err: Error) => console.error(`cleanup ${ns}: ${err.message}`));
  });

  it('updates the entries a sandbox holds for addresses it asked about (IPv4 and IPv6), and creates none for others', async () => {
    // Ask for both addresses: nobody answers, the entries stay without a MAC.
    const ask = async (cmd: string, addr: string): Promise<void> => {
      const answered = await exec('nsenter', [`--net=/run/netns/${client}`, 'busybox', cmd, '-c', '1', '-W', '1', addr], {
        timeout: 5000,
      }).then(
        () => true,
        (err: { code?: number }) => {
          assert.equal(err.code, 1, `ping ${addr} ran (exit 1 = no answer)`);
          return false;
        },
      );
      assert.equal(answered, false, `${addr} answered; nobody should hold it`);
    };
    await Promise.all([ask('ping', '10.77.0.9'), ask('ping6', 'fd77::9')]);
    const before = await neighbours();
    for (const a of ['10.77.0.9', 'fd77::9']) {
      const n = before.find((x) => x.dst === a);
      assert.ok(n, `the sandbox asked for ${a}: ${JSON.stringify(before)}`);
      assert.equal(n.lladdr, undefined, `nobody answered for ${a}`);
    }

    const br = (await kernel.inNetns(hostPath)).link('br0')!;
    await kernel.announceNeighbours(hostPath, br.index, br.mac!, [
      { ip: '10.77.0.9', mac: OWNER_MAC },
      { ip: 'fd77::9', mac: OWNER_MAC },
      { ip: '10.77.0.10', mac: OWNER_MAC },
    ]);
    const deadline = Date.now() + 2000;
    let now = await neighbours();
    while (!['10.77.0.9', 'fd77::9'].every((a) => now.find((x) => x.dst === a)?.lladdr === OWNER_MAC) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      now = await neighbours();
    }
    for (const a of ['10.77.0.9', 'fd77::9'])
      assert.equal(now.find((x) => x.dst === a)?.lladdr, OWNER_MAC, `${a} learned from the announcement: ${JSON.stringify(now)}`);
    assert.equal(
      now.find((x) => x.dst === '10.77.0.10'),
      undefined,
      'an announcement creates no entry for an address the sandbox never asked about',
    );
  });

  it('a bad MAC is refused with a typed error before anything is sent', async () => {
    const br = (await kernel.inNetns(hostPath)).link('br0')!;
    await assert.rejects(kernel.announceNeighbours(hostPath, br.index, br.mac!, [{ ip: '10.77.0.11', mac: 'zz' }]), /not a MAC address/);
  });
});
