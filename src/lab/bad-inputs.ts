/**
 * A generator of bad requests for every input path of the REST API (and a list of bad CLI
 * invocations): each one must be refused with a clear error and change nothing. Seeded.
 */
import { Prng } from './prng.js';

export interface BadRequest {
  method: string;
  path: string;
  /** A JSON value, or a raw string body when `raw` is set. */
  body?: unknown;
  raw?: string;
  what: string;
  /** The one field a single-field mutation spoils (only those are combined in pairs). */
  field?: string;
}

/** Names that must exist before the run: a network "fz-net" (10.61.0.0/24), a sandbox "fz-sb" on it publishing 18080. */
export const FIXTURE = { network: 'fz-net', subnet: '10.61.0.0/24', sandbox: 'fz-sb', publishedPort: 18080 };

const BAD_NAMES: unknown[] = [
  '',
  ' ',
  'a'.repeat(65),
  'bad/name',
  '-lead',
  'sp ace',
  'ünï',
  'semi;colon',
  '$(x)',
  '../x',
  123,
  null,
  true,
  [],
  {},
];
const BAD_CIDRS: unknown[] = [
  '10.70.0.0/33',
  'garbage',
  '10.70.0.0',
  '300.1.1.1/24',
  '10.70.0.0/-1',
  'fd00::/129',
  '10.70.0.0/ 24',
  '',
  7,
  null,
  '10.70.0.0/24/1',
  '1.2.3.4/32',
  '::/128',
  '01.2.3.0/24',
  '10.61.0.0/24',
  '10.61.0.0/16',
  '10.61.0.128/25',
  // Host bits set: Docker refuses these rather than guessing the network.
  '10.70.0.5/24',
  'fd00:70::1/64',
];
const BAD_ADDRS: unknown[] = [
  'x',
  '10.71.0.1',
  '10.70.0.0',
  '10.70.0.255',
  '10.70.0.256',
  '',
  5,
  'fe80::1%eth0',
  '::ffff:10.70.0.5',
  '10.70.0.1/24',
];
const BAD_MACS: unknown[] = [
  'zz',
  '01:00:00:00:00:01',
  '00:00:00:00:00:00',
  '02:00:00:00:00',
  '02:00:00:00:00:00:00',
  'ff:ff:ff:ff:ff:ff',
  42,
];
const BAD_IFNAMES: unknown[] = ['abcdefghijklmnop', 'a/b', '..', 'eth 0', '', 'eth:1', 9];
const BAD_PORTS: unknown[] = [
  '80:',
  '0:80',
  '65536:80',
  '9010-9005:80-85',
  'abc',
  '80/icmp',
  '1-3:1-2',
  '1.2.3:80:80',
  '[::1:80:80',
  '-1:80',
  String(FIXTURE.publishedPort) + ':80',
];
const BAD_OPTIONS: Record<string, string>[] = [
  { 'com.docker.network.bridge.name': 'abcdefghijklmnop' },
  { 'com.docker.network.bridge.name': 'a/b' },
  { 'com.docker.network.driver.mtu': 'abc' },
  { 'com.docker.network.driver.mtu': '10' },
  { 'com.docker.network.driver.mtu': '70000' },
  { 'com.docker.network.bridge.enable_icc': 'maybe' },
  { 'com.docker.network.bridge.enable_ip_masquerade': '2' },
  { 'com.docker.network.bridge.host_binding_ipv4': '::1' },
  { 'com.docker.network.bridge.host_binding_ipv4': 'nope' },
  { 'com.docker.network.container_iface_prefix': 'eth9' },
  { 'no.such.option': '1' },
];

function netBody(): Record<string, unknown> {
  return { name: 'fz-new', ipam: { config: [{ subnet: '10.70.0.0/24' }] } };
}
function sbBody(): Record<string, unknown> {
  return { name: 'fz-new-sb', networks: [{ network: FIXTURE.network }] };
}

/** Every single-field mutation, then random pairs until `count` requests exist. */
export function generateBadRequests(count: number, seed: number): BadRequest[] {
  const out: BadRequest[] = [];
  const mutations = new Map<BadRequest, (b: Record<string, unknown>) => void>();
  const add = (path: string, base: () => Record<string, unknown>, what: string, mutate: (b: Record<string, unknown>) => void): void => {
    const b = base();
    mutate(b);
    const field = what.split(' ')[0]!;
    const r: BadRequest = { method: 'POST', path, body: b, what, field };
    mutations.set(r, mutate);
    out.push(r);
  };
  const net = (what: string, mutate: (b: Record<string, unknown>) => void): void => add('/v1/networks', netBody, `network ${what}`, mutate);
  const sb = (what: string, mutate: (b: Record<string, unknown>) => void): void => add('/v1/sandboxes', sbBody, `sandbox ${what}`, mutate);
  const pool = (b: Record<string, unknown>): Record<string, unknown> => (b.ipam as { config: Record<string, unknown>[] }).config[0]!;
  const ep = (b: Record<string, unknown>): Record<string, unknown> => (b.networks as Record<string, unknown>[])[0]!;

  for (const v of [...BAD_NAMES, FIXTURE.network]) net(`name ${JSON.stringify(v)}`, (b) => (b.name = v));
  for (const v of ['nope', '', 5, 'host', 'null', null]) net(`driver ${JSON.stringify(v)}`, (b) => (b.driver = v));
  for (const v of BAD_CIDRS) net(`subnet ${JSON.stringify(v)}`, (b) => (pool(b).subnet = v));
  for (const v of BAD_ADDRS) net(`gateway ${JSON.stringify(v)}`, (b) => (pool(b).gateway = v));
  for (const v of ['10.71.0.0/25', '10.70.0.0/16', 'zz', 3, '10.70.0.5/25'])
    net(`ip-range ${JSON.stringify(v)}`, (b) => (pool(b).ipRange = v));
  for (const v of ['10.99.9.9', 'nope', '10.70.0.0', 1]) net(`aux ${JSON.stringify(v)}`, (b) => (pool(b).auxAddresses = { h: v }));
  for (const o of BAD_OPTIONS) net(`option ${JSON.stringify(o)}`, (b) => (b.options = o));
  for (const v of [{ k: 5 }, 'labels', [1]]) net(`labels ${JSON.stringify(v)}`, (b) => (b.labels = v));
  for (const v of ['yes', 1, null]) net(`internal ${JSON.stringify(v)}`, (b) => (b.internal = v));
  net('extra field', (b) => (b.bogus = 1));
  net('ipv6 subnet without --ipv6', (b) => ((b.ipam as { config: unknown[] }).config = [{ subnet: 'fd00:70::/64' }]));
  net('two IPv4 subnets', (b) => ((b.ipam as { config: unknown[] }).config = [{ subnet: '10.70.0.0/24' }, { subnet: '10.72.0.0/24' }]));
  net('ipam driver', (b) => ((b.ipam as Record<string, unknown>).driver = 'dhcp'));
  net('ipam options', (b) => ((b.ipam as Record<string, unknown>).options = { x: '1' }));
  net('host driver with subnet', (b) => (b.driver = 'host'));

  for (const v of [...BAD_NAMES.filter((n) => n !== null), FIXTURE.sandbox]) sb(`name ${JSON.stringify(v)}`, (b) => (b.name = v));
  for (const v of ['a'.repeat(64), 'a..b', 'a.']) sb(`name ${JSON.stringify(v)} (not a DNS name)`, (b) => (b.name = v));
  for (const v of ['a'.repeat(64), 'x'.repeat(30) + '.' + 'y'.repeat(40), 'h_-', ''])
    sb(`hostname ${JSON.stringify(v)}`, (b) => (b.hostname = v));
  for (const v of ['weird', 5, '']) sb(`kind ${JSON.stringify(v)}`, (b) => (b.kind = v));
  for (const v of ['relative/path', '/tmp/../etc/passwd', '/etc/passwd', '/proc/self/ns/mnt', '/nonexistent/ns', '/dev/null', 7]) {
    sb(`netnsPath ${JSON.stringify(v)}`, (b) => Object.assign(b, { kind: 'external', netnsPath: v }));
  }
  for (const v of [-1, 0, 99999999, 'x', 1.5, 2 ** 40])
    sb(`pid ${JSON.stringify(v)}`, (b) => Object.assign(b, { kind: 'external', pid: v }));
  sb('external with both pid and path', (b) => Object.assign(b, { kind: 'external', pid: process.pid, netnsPath: '/proc/self/ns/net' }));
  sb('external with neither', (b) => Object.assign(b, { kind: 'external' }));
  for (const v of ['nonexistent', '', 5]) sb(`network ${JSON.stringify(v)}`, (b) => (ep(b).network = v));
  for (const v of [...BAD_ADDRS, '10.61.0.1', '10.61.1.5']) sb(`ip ${JSON.stringify(v)}`, (b) => (ep(b).ipv4 = v));
  sb('ip6 on a v4-only network', (b) => (ep(b).ipv6 = 'fd00::5'));
  for (const v of BAD_MACS) sb(`mac ${JSON.stringify(v)}`, (b) => (ep(b).mac = v));
  for (const v of BAD_IFNAMES) sb(`ifname ${JSON.stringify(v)}`, (b) => (ep(b).ifname = v));
  // Aliases are DNS names: labels of at most 63 characters, no empty labels.
  for (const v of [['bad alias'], ['x'.repeat(70)], 'alias', [5], ['a'.repeat(64)], ['a..b'], ['a.'], ['-a']])
    sb(`aliases ${JSON.stringify(v)}`, (b) => (ep(b).aliases = v));
  for (const v of BAD_PORTS) sb(`publish ${JSON.stringify(v)}`, (b) => (b.publish = [v]));
  for (const v of [['not-an-ip'], ['1.2.3.4.5'], 'x']) sb(`dns ${JSON.stringify(v)}`, (b) => (b.dns = v));
  sb('container mode without target', (b) => Object.assign(b, { kind: 'container', networks: [] }));
  sb('container mode with networks', (b) => Object.assign(b, { kind: 'container', containerOf: FIXTURE.sandbox }));
  sb('container of missing', (b) => Object.assign(b, { kind: 'container', containerOf: 'nobody', networks: [] }));
  sb('host mode with ports', (b) => Object.assign(b, { kind: 'host', networks: [], publish: ['8088:80'] }));
  sb('duplicate network', (b) => (b.networks = [{ network: FIXTURE.network }, { network: FIXTURE.network }]));
  sb('extra field', (b) => (b.bogus = true));

  const misc: BadRequest[] = [
    { method: 'POST', path: `/v1/networks/${FIXTURE.network}/connect`, body: { sandbox: 'missing' }, what: 'connect missing sandbox' },
    { method: 'POST', path: '/v1/networks/missing/connect', body: { sandbox: FIXTURE.sandbox }, what: 'connect missing network' },
    { method: 'POST', path: `/v1/networks/${FIXTURE.network}/connect`, body: { sandbox: FIXTURE.sandbox }, what: 'connect twice' },
    {
      method: 'POST',
      path: `/v1/networks/${FIXTURE.network}/connect`,
      body: { sandbox: FIXTURE.sandbox, ipv4: 'x' },
      what: 'connect bad ip',
    },
    { method: 'POST', path: '/v1/networks/bridge/disconnect', body: { sandbox: FIXTURE.sandbox }, what: 'disconnect not connected' },
    { method: 'POST', path: '/v1/networks/host/connect', body: { sandbox: FIXTURE.sandbox }, what: 'connect to host network' },
    { method: 'DELETE', path: '/v1/networks/missing', what: 'rm missing network' },
    { method: 'DELETE', path: `/v1/networks/${FIXTURE.network}`, what: 'rm network in use' },
    { method: 'DELETE', path: '/v1/networks/bridge', what: 'rm predefined network' },
    { method: 'DELETE', path: '/v1/sandboxes/missing', what: 'rm missing sandbox' },
    { method: 'PATCH', path: `/v1/sandboxes/${FIXTURE.sandbox}`, body: { pid: -5 }, what: 'patch bad pid' },
    { method: 'PATCH', path: `/v1/sandboxes/${FIXTURE.sandbox}`, body: { pid: 99999999 }, what: 'patch dead pid' },
    { method: 'PUT', path: '/v1/networks', body: {}, what: 'wrong method' },
    { method: 'GET', path: '/v1/nope', what: 'unknown route' },
    // Percent-encoding a client got wrong is the client's error (400), never a 500.
    { method: 'GET', path: '/v1/networks/%ZZ', what: 'malformed percent-encoding' },
    { method: 'DELETE', path: '/v1/sandboxes/%E0%A4%A', what: 'truncated UTF-8 escape' },
    { method: 'GET', path: '/v1/networks/%00', what: 'NUL in a path segment' },
    { method: 'POST', path: '/v1/networks', raw: '{', what: 'malformed JSON' },
    { method: 'POST', path: '/v1/networks', raw: '[]', what: 'array body' },
    { method: 'POST', path: '/v1/networks', raw: 'null', what: 'null body' },
    { method: 'POST', path: '/v1/sandboxes', raw: '"str"', what: 'string body' },
    { method: 'POST', path: '/v1/sandboxes', raw: 'x'.repeat(1_100_000), what: 'oversized body' },
  ];
  out.push(...misc);

  // Random pairs of single-field mutations on two different fields: each field is checked on
  // its own, so a pair of bad values is still bad (multi-field "mode" mutations are not paired:
  // two of them can add up to a valid request).
  const rnd = new Prng(seed);
  const SINGLE = /^(network|sandbox) (name|driver|subnet|gateway|ip-range|aux|option|labels|internal|ip|mac|ifname|aliases|publish|dns) /;
  const singles = out.filter((r) => mutations.has(r) && SINGLE.test(r.what));
  const fieldOf = (r: BadRequest): string => SINGLE.exec(r.what)![2]!;
  while (out.length < count) {
    const a = rnd.pick(singles);
    const b = rnd.pick(singles.filter((x) => x.path === a.path && fieldOf(x) !== fieldOf(a)));
    const body = a.path === '/v1/networks' ? netBody() : sbBody();
    mutations.get(a)!(body);
    mutations.get(b)!(body);
    out.push({ method: 'POST', path: a.path, body, what: `${a.what} + ${b.what}` });
  }
  return out;
}

/** Bad CLI invocations (arguments after `weft -H SOCKET`). */
export const BAD_CLI: string[][] = [
  ['network', 'create', '--subnet', '10.70.0.0/33', 'x'],
  ['network', 'create', '--subnet', '10.70.0.5/24', 'x'],
  ['network', 'create', '--subnet', '10.70.0.0/24', '--ip-range', '10.70.0.5/25', 'x'],
  ['run', '--network', `${FIXTURE.network},alias=${'a'.repeat(64)}`, '--', 'true'],
  ['run', '--hostname', 'a'.repeat(64), '--', 'true'],
  ['network', 'create', '--subnet', '10.70.0.0/24', '--gateway', '10.71.0.1', 'x'],
  ['network', 'create', '--gateway', '10.70.0.1', 'x'],
  ['network', 'create', '-d', 'nope', 'x'],
  ['network', 'create', '-o', 'com.docker.network.bridge.name=abcdefghijklmnop', 'x'],
  ['network', 'create', '-o', 'no.such=1', 'x'],
  ['network', 'create', '-o', 'novalue', 'x'],
  ['network', 'create', '--label', 'nolabel', 'x'],
  ['network', 'create', 'bad/name'],
  ['network', 'create', FIXTURE.network],
  ['network', 'create', '--subnet', FIXTURE.subnet, 'y'],
  ['network', 'create', '--aux-address', 'h=10.99.0.1', '--subnet', '10.70.0.0/24', 'x'],
  ['network', 'create', '--ip-range', '10.71.0.0/24', '--subnet', '10.70.0.0/24', 'x'],
  ['network', 'rm', 'missing'],
  ['network', 'rm', 'bridge'],
  ['network', 'inspect', 'missing'],
  ['network', 'connect', 'missing', FIXTURE.sandbox],
  ['network', 'connect', FIXTURE.network, 'missing'],
  ['network', 'connect', '--ip', 'x', FIXTURE.network, FIXTURE.sandbox],
  ['network', 'disconnect', 'bridge', FIXTURE.sandbox],
  ['run', '-p', '80:', '--', 'true'],
  ['run', '-p', '0:80', '--', 'true'],
  ['run', '-p', '65536:80', '--', 'true'],
  ['run', '-p', '9010-9005:80-85', '--', 'true'],
  ['run', '-p', `${FIXTURE.publishedPort}:80`, '--', 'true'],
  ['run', '--network', 'missing', '--', 'true'],
  ['run', '--network', `${FIXTURE.network},ip=10.99.0.5`, '--', 'true'],
  ['run', '--network', `${FIXTURE.network},mac=01:00:00:00:00:01`, '--', 'true'],
  ['run', '--network', `${FIXTURE.network},ifname=abcdefghijklmnop`, '--', 'true'],
  ['run', '--network', `${FIXTURE.network},colour=red`, '--', 'true'],
  ['run', '--network', 'host', '--network', FIXTURE.network, '--', 'true'],
  ['run', '--network', 'container:', '--', 'true'],
  ['run', '--name', FIXTURE.sandbox, '--', 'true'],
  ['run', '--name', 'bad/name', '--', 'true'],
  ['run', '--dns', 'not-an-ip', '--', 'true'],
  ['attach', '--netns', 'relative/path', '--network', FIXTURE.network],
  ['attach', '--netns', '/etc/passwd', '--network', FIXTURE.network],
  ['attach', '--netns', '/tmp/../etc/passwd', '--network', FIXTURE.network],
  ['attach', '--pid', '-1', '--network', FIXTURE.network],
  ['attach', '--pid', 'abc', '--network', FIXTURE.network],
  ['attach', '--pid', '99999999', '--network', FIXTURE.network],
  ['attach', '--network', FIXTURE.network],
  ['sandbox', 'rm', 'missing'],
  ['sandbox', 'inspect', 'missing'],
  ['network', 'frobnicate'],
];
