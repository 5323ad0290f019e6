/**
 * The BIRD 2 renderer: the structure of what it writes for each topology (full mesh, route
 * reflectors, external peers, a lab router), and — for every model rendered here — BIRD's own
 * parser (`bird -p -c`) accepting the text.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderBirdConfig } from '../../src/bgp/render.js';
import { validateBgpModel } from '../../src/bgp/validate.js';
import { bgpSessions } from '../../src/bgp/sessions.js';
import type { BgpModel } from '../../src/bgp/model.js';
import { BirdConfigError, birdParseCheck } from '../../src/kernel/bird-binary.js';

const dir = mkdtempSync(path.join(tmpdir(), 'weft-bgp-render-'));
const rendered: { name: string; text: string }[] = [];

function render(name: string, m: BgpModel): string {
  const text = renderBirdConfig(m);
  rendered.push({ name, text });
  return text;
}

/** The body of `protocol KIND NAME … { … }` (first match), '' when absent. */
function block(text: string, header: string): string {
  const i = text.indexOf(`${header} `);
  if (i < 0) return '';
  const open = text.indexOf('{', i);
  let depth = 0;
  for (let j = open; j < text.length; j++) {
    if (text[j] === '{') depth++;
    else if (text[j] === '}' && --depth === 0) return text.slice(open + 1, j);
  }
  return '';
}

const protocols = (text: string, kind: string): string[] =>
  [...text.matchAll(new RegExp(`^protocol ${kind} (\\S+)`, 'gm'))].map((m) => m[1]!);

const base = (over: Partial<BgpModel> = {}): BgpModel => ({
  hostName: 'a',
  routerId: '198.18.0.1',
  asNumber: 64512,
  address4: '198.18.0.1',
  address6: '2001:db8:18::1',
  pools: ['10.244.0.0/16', 'fd00:244::/48'],
  blocks: ['10.244.1.0/26', 'fd00:244::100/122'],
  borrowed: ['10.244.2.5'],
  hosts: [
    { name: 'a', asNumber: 64512, address4: '198.18.0.1', address6: '2001:db8:18::1' },
    { name: 'c', asNumber: 64512, address4: '198.18.0.3' },
    { name: 'b', asNumber: 64512, address4: '198.18.0.2', address6: '2001:db8:18::2' },
  ],
  ...over,
});

describe('bgp: BIRD config renderer', () => {
  after(async () => {
    // Every config rendered by the tests above must pass BIRD's real parser.
    const failures: string[] = [];
    for (const { name, text } of rendered) {
      const file = path.join(dir, `${name.replace(/\W+/g, '-')}.conf`);
      writeFileSync(file, text);
      try {
        await birdParseCheck(file);
      } catch (err) {
        failures.push(`${name}: ${(err as Error).message}`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    assert.ok(rendered.length >= 6, 'the render tests ran');
    assert.deepEqual(failures, []);
  });

  it('full mesh: one session per family per other host, skipping itself, in name order', () => {
    const text = render('full mesh', base());
    assert.deepEqual(protocols(text, 'bgp'), ['host4_198_18_0_2', 'host6_2001_db8_18__2', 'host4_198_18_0_3']);
    const b4 = block(text, 'protocol bgp host4_198_18_0_2');
    assert.match(b4, /description "host b";/);
    assert.match(b4, /local 198\.18\.0\.1 as 64512;/);
    assert.match(b4, /neighbor 198\.18\.0\.2 as 64512;/);
    assert.match(b4, /ipv4 \{\s+import filter weft_bgp_import4;\s+export filter weft_bgp_export4;/);
    assert.doesNotMatch(b4, /rr client/);
    const b6 = block(text, 'protocol bgp host6_2001_db8_18__2');
    assert.match(b6, /local 2001:db8:18::1 as 64512;/);
    assert.match(b6, /ipv6 \{\s+import filter weft_bgp_import6;\s+export filter weft_bgp_export6;/);
    assert.match(text, /^router id 198\.18\.0\.1;$/m);
  });

  it('blocks are blackholed aggregates; borrowed and single-address blocks are announced only', () => {
    const text = render(
      'blocks',
      base({ blocks: ['10.244.1.0/26', '10.244.7.7/32', 'fd00:244::100/122'], borrowed: ['10.244.2.5', 'fd00:244::9'] }),
    );
    assert.match(block(text, 'protocol static weft_blocks4'), /^\s*ipv4;\s*route 10\.244\.1\.0\/26 blackhole;\s*$/);
    assert.match(block(text, 'protocol static weft_blocks6'), /^\s*ipv6;\s*route fd00:244::100\/122 blackhole;\s*$/);
    const addrs4 = block(text, 'protocol static weft_addrs4');
    assert.match(addrs4, /route 10\.244\.2\.5\/32 blackhole;/);
    assert.match(addrs4, /route 10\.244\.7\.7\/32 blackhole;/, 'a /32 block is announced like a borrowed address (Calico #2624)');
    assert.match(block(text, 'protocol static weft_addrs6'), /route fd00:244::9\/128 blackhole;/);
    // Only the blocks protocol reaches the kernel; BGP exports blocks and single addresses.
    const kx = block(text, 'filter weft_kernel_export4');
    assert.match(kx, /if proto = "weft_blocks4" then accept;/);
    assert.doesNotMatch(kx, /weft_addrs4/);
    assert.match(kx, /if source = RTS_BGP && net ~ \[ 10\.244\.0\.0\/16\+ \] then accept;/);
    assert.match(block(text, 'filter weft_bgp_export4'), /if proto = "weft_blocks4" \|\| proto = "weft_addrs4" then accept;\s*reject;/);
  });

  it('never imports or exports a default route, and imports only pool prefixes', () => {
    const text = render('filters', base());
    for (const f of [
      'weft_kernel_export4',
      'weft_bgp_import4',
      'weft_bgp_export4',
      'weft_bgp_transit4',
      'weft_bgp_import6',
      'weft_bgp_export6',
    ]) {
      assert.match(block(text, `filter ${f}`), /^\s*if net\.len = 0 then reject;/, f);
    }
    assert.match(block(text, 'filter weft_bgp_import6'), /if net ~ \[ fd00:244::\/48\+ \] then accept;\s*reject;/);
    assert.match(block(text, 'filter weft_kernel_learn4'), /if net ~ \[ 10\.244\.0\.0\/16\+ \] then reject;\s*accept;/);
  });

  it('a family without pools matches nothing', () => {
    const text = render('v4 only', base({ pools: ['10.244.0.0/16'], blocks: ['10.244.1.0/26'], address6: undefined }));
    assert.match(block(text, 'filter weft_bgp_import6'), /if false then accept;/);
    assert.deepEqual(protocols(text, 'bgp'), ['host4_198_18_0_2', 'host4_198_18_0_3']);
  });

  it('kernel table, metric and scan time come from the model', () => {
    const text = render('kernel', base({ kernel: { table: 100, metric: 50, scanSeconds: 5 } }));
    const k4 = block(text, 'protocol kernel weft_kernel4');
    assert.match(k4, /kernel table 100;\s+metric 50;\s+learn;\s+scan time 5;/);
    assert.match(k4, /import filter weft_kernel_learn4;\s+export filter weft_kernel_export4;/);
    assert.match(block(text, 'protocol kernel weft_kernel6'), /kernel table 100;/);
  });

  it('route reflector: clients get "rr client" and the cluster id; routes learned over BGP pass on', () => {
    const m = base({
      mesh: 'reflectors',
      reflectorClusterId: '1',
      hosts: [
        { name: 'b', asNumber: 64512, address4: '198.18.0.2' },
        { name: 'rr2', asNumber: 64512, address4: '198.18.0.9', reflectorClusterId: '0.0.0.1' },
      ],
    });
    const text = render('reflector', m);
    const client = block(text, 'protocol bgp host4_198_18_0_2');
    assert.match(client, /rr client;\s+rr cluster id 0\.0\.0\.1;/);
    assert.match(client, /export filter weft_bgp_transit4;/);
    const peerRr = block(text, 'protocol bgp host4_198_18_0_9');
    assert.doesNotMatch(peerRr, /rr client/, 'reflectors peer with each other as plain iBGP');
    assert.match(peerRr, /export filter weft_bgp_transit4;/);
  });

  it('route reflector client: sessions to the reflectors only, exporting its own routes only', () => {
    const text = render(
      'rr client',
      base({
        mesh: 'reflectors',
        hosts: [
          { name: 'b', asNumber: 64512, address4: '198.18.0.2' },
          { name: 'rr1', asNumber: 64512, address4: '198.18.0.9', reflectorClusterId: '1.1.1.1' },
        ],
      }),
    );
    assert.deepEqual(protocols(text, 'bgp'), ['host4_198_18_0_9']);
    assert.match(block(text, 'protocol bgp host4_198_18_0_9'), /export filter weft_bgp_export4;/);
  });

  it('mesh "none" with external peers: password, multihop, port, passive; no transit on a host', () => {
    const text = render(
      'external',
      base({
        mesh: 'none',
        externalPeers: [
          { name: 'tor', asNumber: 65000, address: '198.18.0.254', password: 'top secret', multihop: 2 },
          { name: 'rs6', asNumber: 65001, address: '2001:db8:18::fe', port: 1790, passive: true },
        ],
      }),
    );
    assert.deepEqual(protocols(text, 'bgp'), ['peer6_2001_db8_18__fe_p1790', 'peer4_198_18_0_254']);
    const tor = block(text, 'protocol bgp peer4_198_18_0_254');
    assert.match(tor, /description "peer tor";/);
    assert.match(tor, /neighbor 198\.18\.0\.254 as 65000;/);
    assert.match(tor, /multihop 2;/);
    assert.match(tor, /password "top secret";/);
    assert.match(tor, /export filter weft_bgp_export4;/);
    const rs = block(text, 'protocol bgp peer6_2001_db8_18__fe_p1790');
    assert.match(rs, /neighbor 2001:db8:18::fe port 1790 as 65001;/);
    assert.match(rs, /passive on;/);
  });

  it('router role: a top-of-rack router passes pool routes between its peers', () => {
    const text = render('router', {
      role: 'router',
      hostName: 'tor1',
      routerId: '198.18.1.254',
      asNumber: 65000,
      address4: '198.18.1.254',
      pools: ['10.244.0.0/16'],
      mesh: 'none',
      externalPeers: [
        { name: 'h1', asNumber: 64601, address: '198.18.1.1' },
        { name: 'h2', asNumber: 64602, address: '198.18.1.2' },
        { name: 'h3', asNumber: 64603, address: '198.18.2.1', localAddress: '198.18.2.254' },
      ],
    });
    assert.match(text, /^# BIRD 2 configuration for router tor1/);
    assert.match(block(text, 'protocol bgp peer4_198_18_1_1'), /export filter weft_bgp_transit4;/);
    assert.match(block(text, 'protocol bgp peer4_198_18_1_1'), /local 198\.18\.1\.254 as 65000;/);
    assert.match(
      block(text, 'protocol bgp peer4_198_18_2_1'),
      /local 198\.18\.2\.254 as 65000;/,
      'each segment peered from its own address',
    );
    assert.match(block(text, 'protocol static weft_blocks4'), /^\s*ipv4;\s*$/);
  });

  it('graceful restart and timers are announced only when asked for', () => {
    assert.match(block(render('gr default', base()), 'template bgp weft_peer'), /graceful restart aware;/);
    const t = block(
      render('gr on', base({ gracefulRestartSeconds: 120, timers: { holdSeconds: 9, keepaliveSeconds: 3 } })),
      'template bgp weft_peer',
    );
    assert.match(t, /hold time 9;\s+keepalive time 3;\s+connect delay time 1;\s+connect retry time 5;/);
    assert.match(t, /graceful restart on;\s+graceful restart time 120;/);
  });

  it('renders the same text whatever order the store listed things in', () => {
    const a = renderBirdConfig(base({ blocks: ['10.244.3.0/26', '10.244.1.0/26'], hosts: base().hosts }));
    const b = renderBirdConfig(base({ blocks: ['10.244.1.0/26', '10.244.3.0/26'], hosts: [...base().hosts!].reverse() }));
    assert.equal(a, b);
  });

  it('sessions list peers with their kind, family and protocol name', () => {
    const s = bgpSessions(validateBgpModel(base({ externalPeers: [{ name: 'tor', asNumber: 65000, address: '198.18.0.254' }] })));
    assert.deepEqual(
      s.map((x) => [x.protocol, x.kind, x.peerName, x.family, x.neighborAs]),
      [
        ['host4_198_18_0_2', 'host', 'b', 4, 64512],
        ['host6_2001_db8_18__2', 'host', 'b', 6, 64512],
        ['host4_198_18_0_3', 'host', 'c', 4, 64512],
        ['peer4_198_18_0_254', 'external', 'tor', 4, 65000],
      ],
    );
  });

  it("BIRD's parser catches a broken config (the check itself can fail)", async () => {
    const file = path.join(dir, 'broken.conf');
    writeFileSync(file, renderBirdConfig(base()).replace('router id 198.18.0.1;', 'router id 198.18.0;'));
    await assert.rejects(birdParseCheck(file), (e: unknown) => e instanceof BirdConfigError && e.line === 3 && e.column === 14);
  });
});
