/**
 * The CLI as a Docker user meets it, against a real weftd in a fake host: one --format grammar
 * on every printing command (json, table, a template, an unknown format), --version, -H
 * unix://, WEFT_HOST, the daemon-unreachable error, sorted ls, prune confirmation, errors
 * printed once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, SimHost, WEFT, run, waitFor, type RunResult } from '../../src/lab/sim-host.js';
import type { NetworkInspect, SandboxView } from '../../src/controller/inspect.js';
import { sandboxHosts } from '../../src/dns/resolv-conf.js';

const VERSION = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const errorLines = (r: RunResult): string[] => r.stderr.split('\n').filter((l) => l.startsWith('Error'));

/** An unknown --format fails with exit 2 and one error line, and (checked by callers) changes nothing. */
function assertUnknownFormat(r: RunResult, what: string): void {
  assert.equal(r.code, 2, `${what}: exit 2 (${r.stderr})`);
  assert.deepEqual(errorLines(r).length, 1, `${what}: the error is printed once`);
  assert.match(r.stderr, /unknown format "xml".*WEFT_INVALID_ARGUMENT/, what);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
}

describe('weft CLI: --format grammar, host selection, errors', () => {
  let h: SimHost;
  let tmp: string;
  const cli = (args: string[]): Promise<RunResult> => h.cli(args);
  const ok = (args: string[]): Promise<string> => h.cliOk(args);
  const networks = async (): Promise<string[]> =>
    (await h.client.request<NetworkInspect[]>('GET', '/v1/networks')).map((n) => n.Name).sort();

  before(async () => {
    h = await SimHost.create('cli');
    await h.start();
    tmp = mkdtempSync(path.join(tmpdir(), 'weft-cli-test-'));
  });
  after(async () => {
    await h?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('talks to the weftd in the fake host, and --version prints the package version without one', async () => {
    const info = await h.client.request<Record<string, unknown>>('GET', '/v1/info');
    assert.ok(info, 'weftd answers on its socket in the fake host');
    const v = await run(process.execPath, [WEFT, '--version']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `weft version ${VERSION}\n`);
    const v2 = await run(process.execPath, [WEFT, '-H', 'unix:///nonexistent.sock', '-v']);
    assert.equal(v2.stdout, `weft version ${VERSION}\n`, 'no daemon needed');
  });

  it('-H unix:///path, a bare path and WEFT_HOST select the socket; -H wins over WEFT_HOST', async () => {
    const viaUrl = await run(process.execPath, [WEFT, '-H', `unix://${h.socket}`, 'network', 'ls', '--format', '{{.Name}}']);
    assert.equal(viaUrl.code, 0, viaUrl.stderr);
    assert.match(viaUrl.stdout, /^bridge$/m);
    const env = { ...process.env, WEFT_HOST: `unix://${h.socket}`, WEFT_SOCKET: '' };
    const viaEnv = await run(process.execPath, [WEFT, 'network', 'ls', '--format', '{{.Name}}'], { env });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(viaEnv.stdout, viaUrl.stdout);
    const badEnv = { ...process.env, WEFT_HOST: 'unix:///nonexistent/weft.sock' };
    const flagWins = await run(process.execPath, [WEFT, '-H', h.socket, 'network', 'ls', '--format', '{{.Name}}'], { env: badEnv });
    assert.equal(flagWins.stdout, viaUrl.stdout, flagWins.stderr);
    const tcp = await run(process.execPath, [WEFT, '-H', 'tcp://127.0.0.1:2375', 'network', 'ls']);
    assert.equal(tcp.code, 2);
    assert.match(tcp.stderr, /unix socket only/);
  });

  it('cannot reach weftd: its own code, the socket it tried, printed once', async () => {
    const missing = path.join(tmp, 'no-such.sock');
    const r = await run(process.execPath, [WEFT, '-H', `unix://${missing}`, 'network', 'ls']);
    assert.equal(r.code, 1);
    assert.equal(errorLines(r).length, 1, r.stderr);
    assert.match(r.stderr, /cannot reach weftd at .*no-such\.sock.*\[WEFT_DAEMON_UNREACHABLE\]/);
    const notSock = path.join(tmp, 'plain-file');
    writeFileSync(notSock, '');
    const r2 = await run(process.execPath, [WEFT, 'sandbox', 'ls'], { env: { ...process.env, WEFT_HOST: `unix://${notSock}` } });
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, new RegExp(`cannot reach weftd at ${notSock}: .*\\[WEFT_DAEMON_UNREACHABLE\\]`));
  });

  it('network create: id by default; json (docker inspect keys), template, table; unknown format creates nothing', async () => {
    const id = (await ok(['network', 'create', '--subnet', '10.61.0.0/24', 'zeta'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const j = JSON.parse(
      await ok(['network', 'create', '--subnet', '10.62.0.0/24', '--label', 'tier=db', '--format', 'json', 'alpha']),
    ) as NetworkInspect;
    assert.equal(j.Name, 'alpha');
    assert.deepEqual(Object.keys(j).slice(0, 6), ['Name', 'Id', 'Created', 'Scope', 'Driver', 'EnableIPv6'], 'docker network inspect keys');
    assert.equal(j.IPAM.Config[0]!.Subnet, '10.62.0.0/24');
    assert.equal(
      await ok(['network', 'create', '--subnet', '10.63.0.0/24', '--format', '{{.Name}} {{(index .IPAM.Config 0).Gateway}}', 'mid']),
      'mid 10.63.0.1\n',
    );
    const t = await ok(['network', 'create', '--subnet', '10.64.0.0/24', '--format', 'table', 'beta']);
    assert.match(t, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE\s+SUBNETS\n[0-9a-f]{12}\s+beta\s+bridge\s+local\s+10\.64\.0\.0\/24\n$/);
    assertUnknownFormat(await cli(['network', 'create', '--format', 'xml', 'never']), 'network create');
    assert.ok(!(await networks()).includes('never'), 'nothing was created');
  });

  it('network ls: sorted by name; table, json lines with Docker ls keys, templates, table templates, unknown', async () => {
    const names = (await ok(['network', 'ls', '--format', '{{.Name}}'])).trim().split('\n');
    assert.deepEqual(names, ['alpha', 'beta', 'bridge', 'host', 'mid', 'none', 'zeta']);
    const table = (await ok(['network', 'ls'])).split('\n');
    assert.match(table[0]!, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE\s+SUBNETS$/);
    assert.deepEqual(
      table.slice(1, -1).map((l) => l.split(/\s+/)[1]),
      names,
    );
    assert.equal(await ok(['network', 'ls', '--format', 'table']), table.join('\n'));
    const lines = (await ok(['network', 'ls', '--format', 'json']))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    assert.deepEqual(Object.keys(lines[0]!), ['ID', 'Name', 'Driver', 'Scope', 'IPv6', 'Internal', 'Labels', 'CreatedAt', 'Subnets']);
    assert.equal(lines.find((l) => l.Name === 'alpha')!.Labels, 'tier=db');
    const tt = await ok(['network', 'ls', '--format', 'table {{.Name}}\\t{{.Subnets}}']);
    assert.match(tt, /^NAME\s+SUBNETS\nalpha\s+10\.62\.0\.0\/24\n/);
    const typo = await cli(['network', 'ls', '--format', '{{.Nmae}}']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /can't evaluate field Nmae/);
    assertUnknownFormat(await cli(['network', 'ls', '--format', 'xml']), 'network ls');
  });

  it('network inspect: JSON array by default and with json; templates per network; table; unknown', async () => {
    const arr = JSON.parse(await ok(['network', 'inspect', 'alpha', 'zeta'])) as NetworkInspect[];
    assert.deepEqual(
      arr.map((n) => n.Name),
      ['alpha', 'zeta'],
    );
    assert.equal(await ok(['network', 'inspect', '--format', 'json', 'alpha', 'zeta']), JSON.stringify(arr, null, 2) + '\n');
    assert.equal(
      await ok(['network', 'inspect', '--format', '{{.Name}}: {{.IPAM.Config}} {{json .Labels}}', 'alpha']),
      'alpha: [{10.62.0.0/24 10.62.0.1}] {"tier":"db"}\n',
    );
    assert.equal(
      await ok(['network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', 'alpha', 'zeta']),
      '10.62.0.0/24\n10.61.0.0/24\n',
    );
    assert.match(await ok(['network', 'inspect', '--format', 'table', 'alpha']), /^NETWORK ID\s+NAME.*\n[0-9a-f]{12}\s+alpha\s/);
    assertUnknownFormat(await cli(['network', 'inspect', '--format', 'xml', 'alpha']), 'network inspect');
  });

  it('run -d prints the sandbox id; json (camelCase sandbox keys), template, table; unknown runs nothing', async () => {
    const id = (await ok(['run', '-d', '--name', 's-default', '--network', 'alpha', '--', 'sleep', '900'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    h.track((await h.sandbox(id)).pid);
    const j = JSON.parse(
      await ok(['run', '-d', '--name', 's-json', '--network', 'alpha', '--format', 'json', '--', 'sleep', '900']),
    ) as SandboxView;
    h.track(j.pid);
    assert.equal(j.name, 's-json');
    assert.ok('netnsPath' in j && Array.isArray(j.endpoints), 'weft sandbox keys (camelCase)');
    assert.equal(j.pid, (await h.sandbox('s-json')).pid, "the command's pid, after the hand-over");
    const tpl = await ok([
      'run',
      '-d',
      '--name',
      's-tpl',
      '--network',
      'alpha',
      '--format',
      '{{.name}} {{(index .endpoints 0).networkName}}',
      '--',
      'sleep',
      '900',
    ]);
    assert.equal(tpl, 's-tpl alpha\n');
    h.track((await h.sandbox('s-tpl')).pid);
    const tab = await ok(['run', '-d', '--name', 's-tab', '--network', 'none', '--format', 'table', '--', 'sleep', '900']);
    assert.match(tab, /^SANDBOX ID\s+NAME\s+KIND\s+PID\s+NETWORKS\s+ADDRESSES\n[0-9a-f]{12}\s+s-tab\s+netns\s+\d+/);
    h.track((await h.sandbox('s-tab')).pid);
    assertUnknownFormat(await cli(['run', '-d', '--name', 's-never', '--format', 'xml', '--', 'sleep', '900']), 'run -d');
    const foreground = await cli(['run', '--format', 'json', '--', 'true']);
    assert.equal(foreground.code, 2, 'a foreground run has no --format');
    const all = await h.client.request<SandboxView[]>('GET', '/v1/sandboxes');
    assert.ok(!all.some((s) => s.name === 's-never'), 'no sandbox was made for the unknown format');
  });

  it('run: a command that exits at once, foreground and -d, leaves no sandbox', async () => {
    const before = (await h.client.request<SandboxView[]>('GET', '/v1/sandboxes')).length;
    const fg = await cli(['run', '--network', 'none', '--', 'sh', '-c', 'exit 7']);
    assert.equal(fg.code, 7, "the command's exit status");
    const d = await cli(['run', '-d', '--network', 'none', '--', 'true']);
    assert.equal(d.code, 0, d.stderr);
    const missing = await cli(['run', '--network', 'none', '--', '/no/such/cmd']);
    assert.equal(missing.code, 127, missing.stderr);
    assert.match(missing.stderr, /weft: exec \/no\/such\/cmd: No such file or directory/);
    // A -d command that exited is released at once by the CLI, or by weftd's liveness pass (1 s).
    await waitFor('no sandbox left', async () => (await h.client.request<SandboxView[]>('GET', '/v1/sandboxes')).length === before, 5000);
  });

  it('dist/bin/weft runs a plain foreground run itself: status, output, hostname, hosts, netns, errors, no sandbox left', async () => {
    const launcher = path.join(REPO, 'dist/bin/weft');
    const env = { ...process.env, WEFT_TRACE: '1' };
    const sandboxes = async (): Promise<string[]> => (await h.client.request<SandboxView[]>('GET', '/v1/sandboxes')).map((s) => s.name);
    const before = await sandboxes();
    const script = 'hostname; readlink /proc/self/ns/net; cat /etc/hosts; exit 4';
    const args = ['-H', `unix://${h.socket}`, 'run', '--network', 'none', '--name', 'cs-launch', '--hostname', 'inside'];
    const r = await run(launcher, [...args, '--', 'sh', '-c', script], { env });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /weft-trace: .*\(compiled launcher\)/, 'the launcher ran it, not the Node CLI');
    const [hostname, ns, ...hosts] = r.stdout.split('\n');
    assert.equal(hostname, 'inside');
    assert.notEqual(ns, readlinkSync('/proc/self/ns/net'), 'in a namespace of its own');
    assert.equal(hosts.join('\n'), sandboxHosts({ hostname: 'inside', name: 'cs-launch', addresses: [] }), "the sandbox's /etc/hosts");
    assert.deepEqual(await sandboxes(), before, 'removed when the command exited');
    const missing = await run(launcher, ['-H', h.socket, 'run', '--network', 'none', '--', '/no/such/cmd']);
    assert.equal(missing.code, 127, missing.stderr);
    assert.match(missing.stderr, /weft: exec \/no\/such\/cmd: No such file or directory/);
    // An error from weftd prints once, as the Node CLI prints it, and leaves nothing.
    const bad = await run(launcher, ['-H', h.socket, 'run', '--network', 'no-such-net', '--', 'true']);
    const badNode = await cli(['run', '--network', 'no-such-net', '--', 'true']);
    assert.equal(bad.code, badNode.code);
    assert.equal(bad.stderr, badNode.stderr);
    assert.equal(errorLines(bad).length, 1, bad.stderr);
    assert.deepEqual(await sandboxes(), before);
    // -d: the launcher starts the command in the background and prints the id; true exits at once,
    // so its sandbox is removed right away (or by weftd's liveness pass).
    const d = await run(launcher, ['-H', h.socket, 'run', '-d', '--network', 'none', '--', 'true']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^[0-9a-f]{64}\n$/);
    await waitFor('no sandbox left', async () => (await sandboxes()).length === before.length, 5000);
  });

  it('sandbox ls / inspect: sorted, table, json, templates, unknown', async () => {
    const names = (await ok(['sandbox', 'ls', '--format', '{{.name}}'])).trim().split('\n');
    assert.deepEqual(names, [...names].sort());
    assert.ok(names.includes('s-json'));
    assert.match(await ok(['sandbox', 'ls']), /^SANDBOX ID\s+NAME\s+KIND\s+PID\s+NETWORKS\s+ADDRESSES\n/);
    const lines = (await ok(['sandbox', 'ls', '--format', 'json']))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    assert.deepEqual(Object.keys(lines[0]!), ['id', 'name', 'kind', 'pid', 'networks', 'addresses']);
    assert.match(await ok(['sandbox', 'ls', '--format', 'table {{.name}}\\t{{.networks}}']), /^NAME\s+NETWORKS\n/);
    assertUnknownFormat(await cli(['sandbox', 'ls', '--format', 'xml']), 'sandbox ls');
    const arr = JSON.parse(await ok(['sandbox', 'inspect', 's-json'])) as SandboxView[];
    assert.equal(arr[0]!.name, 's-json');
    assert.equal(await ok(['sandbox', 'inspect', '--format', '{{.Name}} {{.kind}}', 's-json']), 's-json netns\n');
    assert.match(await ok(['sandbox', 'inspect', '--format', 'table', 's-json']), /^SANDBOX ID.*\n[0-9a-f]{12}\s+s-json\s/);
    assertUnknownFormat(await cli(['sandbox', 'inspect', '--format', 'xml', 's-json']), 'sandbox inspect');
  });

  it('attach --netns: id by default, json, template, table; unknown attaches nothing', async () => {
    const ns = await h.extraNetns('att');
    const id = (await ok(['attach', '--netns', `/run/netns/${ns}`, '--network', 'zeta', '--name', 'att1'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    await ok(['sandbox', 'rm', 'att1']);
    const j = JSON.parse(
      await ok(['attach', '--netns', `/run/netns/${ns}`, '--network', 'zeta', '--name', 'att2', '--format', 'json']),
    ) as SandboxView;
    assert.equal(j.kind, 'external');
    assert.match(j.endpoints[0]!.ipv4!, /^10\.61\.0\./);
    await ok(['sandbox', 'rm', 'att2']);
    assert.equal(
      await ok(['attach', '--netns', `/run/netns/${ns}`, '--network', 'zeta', '--name', 'att3', '--format', '{{.name}}']),
      'att3\n',
    );
    await ok(['sandbox', 'rm', 'att3']);
    assert.match(
      await ok(['attach', '--netns', `/run/netns/${ns}`, '--network', 'zeta', '--name', 'att4', '--format', 'table']),
      /^SANDBOX ID.*\n[0-9a-f]{12}\s+att4\s+external/,
    );
    await ok(['sandbox', 'rm', 'att4']);
    assertUnknownFormat(
      await cli(['attach', '--netns', `/run/netns/${ns}`, '--network', 'zeta', '--name', 'att5', '--format', 'xml']),
      'attach',
    );
    assert.ok(!(await h.client.request<SandboxView[]>('GET', '/v1/sandboxes')).some((s) => s.name === 'att5'));
  });

  it('doctor: text by default, json (weft report keys), template, table, unknown', async () => {
    const text = await ok(['doctor']);
    assert.match(text, /^\d+ networks, \d+ sandboxes, \d+ endpoints, \d+ allocations\nok\n$/);
    const j = JSON.parse(await ok(['doctor', '--format', 'json'])) as { ok: boolean; violations: string[]; counts: { networks: number } };
    assert.equal(j.ok, true);
    assert.equal(j.counts.networks, (await networks()).length);
    assert.equal(await ok(['doctor', '--format', '{{.ok}} {{.counts.networks}} {{len .violations}}']), `true ${j.counts.networks} 0\n`);
    assert.match(await ok(['doctor', '--format', 'table']), /^STATUS\s+DETAIL\nok\s+\d+ networks/);
    assertUnknownFormat(await cli(['doctor', '--format', 'xml']), 'doctor');
  });

  it('cni install: paths by default, json, template, table, unknown', async () => {
    const dir = path.join(tmp, 'cni-bin');
    // The plugins and the install configuration the shim reads (socket, node, fallback).
    const installed = `${dir}/weft\n${dir}/weft-ipam\n${dir}/weft-cni.conf\n`;
    assert.equal(await ok(['cni', 'install', '--bin-dir', dir]), installed);
    assert.deepEqual(JSON.parse(await ok(['cni', 'install', '--bin-dir', dir, '--format', 'json'])), [
      { Path: `${dir}/weft` },
      { Path: `${dir}/weft-ipam` },
      { Path: `${dir}/weft-cni.conf` },
    ]);
    assert.equal(await ok(['cni', 'install', '--bin-dir', dir, '--format', '{{.Path}}']), installed);
    assert.match(await ok(['cni', 'install', '--bin-dir', dir, '--format', 'table']), /^PATH\n.*\/weft\n/);
    assertUnknownFormat(await cli(['cni', 'install', '--bin-dir', path.join(tmp, 'never'), '--format', 'xml']), 'cni install');
  });

  it('network rm: each failure printed once, the others still removed', async () => {
    await ok(['network', 'create', '--subnet', '10.65.0.0/24', 'gone']);
    const r = await cli(['network', 'rm', 'nosuch1', 'gone', 'nosuch2']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 'gone\n');
    assert.deepEqual(
      errorLines(r).map((l) => /"(nosuch\d)"/.exec(l)?.[1]),
      ['nosuch1', 'nosuch2'],
      r.stderr,
    );
  });

  it('network prune: refuses without a terminal unless -f; -f prunes; json and templates', async () => {
    const refused = await run(process.execPath, [WEFT, '-H', h.socket, 'network', 'prune'], { input: 'y\n' });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /not a terminal.*-f\/--force/);
    assert.ok((await networks()).includes('beta'), 'nothing pruned without confirmation');
    assertUnknownFormat(await cli(['network', 'prune', '-f', '--format', 'xml']), 'network prune');
    assert.ok((await networks()).includes('beta'), 'nothing pruned on a bad format');
    // alpha has sandboxes; beta, mid and zeta have none.
    const j = JSON.parse(await ok(['network', 'prune', '-f', '--format', 'json'])) as { NetworksDeleted: string[] };
    assert.deepEqual(j.NetworksDeleted, ['beta', 'mid', 'zeta']);
    assert.deepEqual(await networks(), ['alpha', 'bridge', 'host', 'none']);
    await ok(['network', 'create', '--subnet', '10.66.0.0/24', 'p1']);
    assert.equal(await ok(['network', 'prune', '-f', '--format', '{{.Name}}']), 'p1\n');
    await ok(['network', 'create', '--subnet', '10.66.0.0/24', 'p2']);
    assert.equal(await ok(['network', 'prune', '-f']), 'Deleted Networks:\np2\n');
    await ok(['network', 'create', '--subnet', '10.66.0.0/24', 'p3']);
    assert.equal(await ok(['network', 'prune', '-f', '--format', 'table']), 'NAME\np3\n');
  });
});
