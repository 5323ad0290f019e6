/**
 * Egress and published ports of overlay sandboxes, as a Docker user expects them (Docker hangs
 * every overlay container on docker_gwbridge): through the real CLI on a two-host lab.
 *  - outbound: a sandbox on h1 reaches a server in h2's host namespace (an address outside the
 *    overlay), masqueraded behind h1's underlay address;
 *  - `-p 18080:7800` on h1: a client on h2 reaches the sandbox through h1's underlay address
 *    (DNAT to the sandbox's leg on the gateway bridge); the host port is weft's (a second
 *    publication of it is refused); removing the sandbox removes the mapping.
 *  - IPv6 (an IPv6-enabled overlay network): the leg gets an IPv6 address too; `-p` answers on
 *    the host's IPv6 address (ip6 DNAT to the leg) with the client's own address seen, and IPv6
 *    egress is masqueraded behind the host's IPv6 address.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { NETTOOL, mustRun, run, waitFor } from '../../src/lab/sim-host.js';
import { addrOf, node, overlayCliLab, tcpFrom as tcp } from './overlay-cli-lab.js';

describe('overlay: egress and -p through the gateway bridge (lab, 2 hosts, real CLI)', { timeout: 300_000 }, () => {
  // The lab runs weftd without a firewall unless told: these hosts get nftables (their own namespaces).
  const L = overlayCliLab({ prefix: 'o2', weftdArgs: ['--firewall', 'nftables'] });
  const { onHost, ok, inspect } = L;
  let outside: ChildProcess | undefined;
  /** nft's ruleset in h1's namespace. */
  const rules = async (): Promise<string> =>
    (await run('nsenter', [`--net=/run/netns/${L.host('h1').ns}`, 'nft', 'list', 'ruleset'], { timeoutMs: 10_000 })).stdout;

  after(async () => {
    if (outside?.exitCode === null) {
      const gone = new Promise((r) => outside!.once('exit', r));
      outside.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    }
  });

  it('outbound is masqueraded; -p publishes on the host through the leg, guarded, and goes with the sandbox', async () => {
    assert.equal(await L.upHosts(), 2, 'both hosts are up in the cluster store');
    const tables = (await run('nsenter', [`--net=/run/netns/${L.host('h1').ns}`, 'nft', 'list', 'tables'])).stdout;
    assert.match(tables, /weft/, "h1's weftd runs the nftables firewall");
    const h1 = L.host('h1');
    const h2 = L.host('h2');
    await ok('h1', ['network', 'create', '-d', 'overlay', '--subnet', '10.95.0.0/24', 'o2-pub']);
    await ok('h1', ['run', '-d', '--name', 'web', '-p', '18080:7800', '--network', 'o2-pub', '--', node, NETTOOL, 'tcp-server', '7800']);
    const web = await inspect('h1', 'web');
    const webIp = addrOf(web);

    // Outbound: a server outside the overlay (h2's own namespace) sees h1's underlay address.
    outside = spawn('nsenter', [`--net=/run/netns/${h2.ns}`, node, NETTOOL, 'tcp-server', '7801'], { stdio: 'ignore' });
    const out = await waitFor(
      'web reaches a server in h2 (outside the overlay)',
      () => tcp(web.netnsPath, h2.address, 7801, 'out'),
      15_000,
      200,
    );
    assert.equal(out, `${h1.address} out`, 'egress leaves masqueraded behind the host address');

    // Published: from another host, h1's address and the host port reach the sandbox.
    const t0 = Date.now();
    const reply = await waitFor('h2 reaches web through h1:18080', () => tcp(`/run/netns/${h2.ns}`, h1.address, 18080, 'in'), 15_000, 200);
    console.log(`overlay -p: reachable ${Date.now() - t0} ms after run returned`);
    assert.equal(reply, `${h2.address} in`, 'the sandbox sees the client, not a translated address');
    assert.notEqual(webIp, h2.address);

    // The host port is weft's: a second publication of it is refused, nothing is created.
    const dup = await onHost('h1', [
      'run',
      '-d',
      '--name',
      'web2',
      '-p',
      '18080:7800',
      '--network',
      'o2-pub',
      '--',
      node,
      NETTOOL,
      'tcp-server',
      '7800',
    ]);
    assert.notEqual(dup.code, 0, 'a host port already published is refused');
    assert.match(dup.stderr, /18080/);
    assert.doesNotMatch(await ok('h1', ['sandbox', 'ls']), /web2/);

    // The ruleset holds the mapping to the leg (one element), and loses it with the sandbox.
    assert.match(await rules(), /18080 : 10\.255\.\d+\.\d+ \. 7800/, 'DNAT to the leg address on the gateway bridge');
    await ok('h1', ['sandbox', 'rm', '-f', 'web']);
    assert.doesNotMatch(await rules(), /18080/, 'the mapping went with the sandbox');
    assert.equal(await tcp(`/run/netns/${h2.ns}`, h1.address, 18080, 'gone', 800), undefined, 'nothing answers on the port any more');
    // The port is free again for the next sandbox.
    await ok('h1', ['run', '-d', '--name', 'web3', '-p', '18080:7800', '--network', 'o2-pub', '--', node, NETTOOL, 'tcp-server', '7800']);
    const again = await waitFor(
      'h2 reaches web3 through h1:18080',
      () => tcp(`/run/netns/${h2.ns}`, h1.address, 18080, 'again'),
      15_000,
      200,
    );
    assert.equal(again, `${h2.address} again`);
    await ok('h1', ['sandbox', 'rm', '-f', 'web3']);
    await ok('h1', ['network', 'rm', 'o2-pub']);
  });

  it('IPv6: -p on an IPv6-enabled overlay network answers on the host’s IPv6 address (ip6 DNAT to the leg); IPv6 egress is masqueraded', async () => {
    const h1 = L.host('h1');
    const h2 = L.host('h2');
    const v6 = { h1: '2001:2::a', h2: '2001:2::b' };
    // The lab's underlay is IPv4 only (without --bgp): give both hosts an IPv6 address on it
    // (RFC 5180's benchmarking prefix, as the lab's --bgp hosts use).
    for (const [h, a] of [
      [h1, v6.h1],
      [h2, v6.h2],
    ] as const)
      await mustRun('ip', ['-n', h.ns, 'addr', 'add', `${a}/64`, 'dev', 'eth0', 'nodad']);
    outside ??= spawn('nsenter', [`--net=/run/netns/${h2.ns}`, node, NETTOOL, 'tcp-server', '7801'], { stdio: 'ignore' });
    await ok('h1', ['network', 'create', '-d', 'overlay', '--ipv6', '--subnet', '10.96.0.0/24', '--subnet', 'fd96::/64', 'o3-pub6']);
    await ok('h1', ['run', '-d', '--name', 'web6', '-p', '18086:7806', '--network', 'o3-pub6', '--', node, NETTOOL, 'tcp-server', '7806']);
    const web = await inspect('h1', 'web6');
    addrOf(web, 6);

    const t0 = Date.now();
    const reply = await waitFor('h2 reaches web6 through [h1]:18086', () => tcp(`/run/netns/${h2.ns}`, v6.h1, 18086, 'in6'), 15_000, 200);
    console.log(`overlay -p over IPv6: reachable ${Date.now() - t0} ms after run returned`);
    assert.equal(reply, `${v6.h2} in6`, "the sandbox sees the client's own IPv6 address");
    assert.equal(await tcp(`/run/netns/${h2.ns}`, h1.address, 18086, 'in4'), `${h2.address} in4`, 'IPv4 is published too');
    assert.match(await rules(), /18086 : fd77:6566:7467::[0-9a-f:]+ \. 7806/, "ip6 DNAT to the leg's IPv6 address on the gateway bridge");

    // Out: masqueraded behind h1's IPv6 address, as IPv4 egress is behind its IPv4 one.
    const out = await waitFor('web6 reaches a server in h2 over IPv6', () => tcp(web.netnsPath, v6.h2, 7801, 'out6'), 15_000, 200);
    assert.equal(out, `${v6.h1} out6`);

    await ok('h1', ['sandbox', 'rm', '-f', 'web6']);
    assert.doesNotMatch(await rules(), /18086/, 'both mappings went with the sandbox');
    assert.equal(await tcp(`/run/netns/${h2.ns}`, v6.h1, 18086, 'gone', 800), undefined, 'nothing answers on the IPv6 port any more');
    await ok('h1', ['network', 'rm', 'o3-pub6']);
  });
});
