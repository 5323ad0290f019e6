/**
 * The compiled launcher (dist/bin/weft, src/cli/weft-launcher.c) against a fake weftd on a unix
 * socket, side by side with the Node CLI (bin/weft.js) on the same replies: for the forms the
 * launcher runs itself, its POST body is the one the Node CLI sends (sandboxBodyFromRun is the
 * one source of the API shape) and every error prints the same, with the same exit status;
 * every other form is handed to the Node CLI. Only the last test starts a command (weft-exec
 * needs root for its mount and UTS namespaces); the others get error replies.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, WEFT } from '../../src/lab/sim-host.js';

const LAUNCHER = path.join(REPO, 'dist/bin/weft');

interface Seen {
  method: string;
  path: string;
  body: Record<string, unknown> | undefined;
}
interface Reply {
  status: number;
  body: string;
}
interface Result {
  code: number;
  stdout: string;
  stderr: string;
  pid: number;
  launcherRan: boolean;
  seen: Seen[];
}

/** A fake weftd: one request per connection, answered from `replies` (the last one repeats). */
class FakeWeftd {
  readonly seen: Seen[] = [];
  replies: Reply[] = [];
  private readonly server: net.Server;
  constructor(readonly socket: string) {
    this.server = net.createServer((c) => {
      let buf = Buffer.alloc(0);
      c.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        const [method = '', p = ''] = head.split(' ');
        const body = buf.subarray(end + 4, end + 4 + len).toString('utf8');
        this.seen.push({ method, path: p, body: len ? (JSON.parse(body) as Record<string, unknown>) : undefined });
        const r = this.replies.length > 1 ? this.replies.shift()! : this.replies[0]!;
        c.end(
          `HTTP/1.1 ${r.status} X\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(r.body)}\r\n` +
            `connection: close\r\n\r\n${r.body}`,
        );
      });
      c.on('error', () => c.destroy());
    });
  }
  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.socket, resolve));
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const errorReply = (status: number, error: Record<string, unknown> | undefined, raw?: string): Reply => ({
  status,
  body: raw ?? JSON.stringify(error ? { error } : {}),
});

describe('weft launcher (dist/bin/weft) vs the Node CLI', () => {
  let dir: string;
  let fake: FakeWeftd;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'weft-launcher-test-'));
    fake = new FakeWeftd(path.join(dir, 'weft.sock'));
    await fake.listen();
  });
  after(async () => {
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Run a program against the fake weftd, with the replies given; returns what it did. */
  function exec(file: string, args: string[], replies: Reply[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
    fake.replies = [...replies];
    const from = fake.seen.length;
    return new Promise((resolve) => {
      const child = execFile(
        file,
        args,
        { env: { ...process.env, WEFT_HOST: '', WEFT_SOCKET: '', ...env, WEFT_TRACE: '1' }, timeout: 30_000 },
        (err, stdout, stderr) => {
          const trace = String(stderr)
            .split('\n')
            .filter((l) => l.startsWith('weft-trace:'));
          resolve({
            code: err ? ((err as unknown as { code?: unknown }).code as number) : 0,
            stdout: String(stdout),
            stderr: String(stderr)
              .split('\n')
              .filter((l) => !l.startsWith('weft-trace:'))
              .join('\n'),
            pid: child.pid!,
            launcherRan: trace.some((l) => l.includes('(compiled launcher)')),
            seen: fake.seen.slice(from),
          });
        },
      );
    });
  }

  const withoutPid = (s: Seen): Seen => {
    const { pid: _pid, ...body } = s.body ?? {};
    return { ...s, body };
  };

  /** The launcher and `node bin/weft.js` on the same arguments and replies: same request, same output. */
  async function same(args: string[], replies: Reply[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
    const c = await exec(LAUNCHER, args, replies, env);
    const n = await exec(process.execPath, [WEFT, ...args], replies, env);
    assert.deepEqual(c.seen.map(withoutPid), n.seen.map(withoutPid), `${args.join(' ')}: the same requests`);
    for (const s of c.seen.filter((x) => x.method === 'POST' && x.body?.pid !== undefined))
      assert.equal(s.body?.pid, c.pid, 'the pid is the caller’s own');
    assert.equal(c.stderr, n.stderr, `${args.join(' ')}: the same stderr`);
    assert.equal(c.stdout, n.stdout, `${args.join(' ')}: the same stdout`);
    assert.equal(c.code, n.code, `${args.join(' ')}: the same exit status`);
    return c;
  }

  const refused = errorReply(400, { code: 'WEFT_INVALID_ARGUMENT', message: 'name: "x" is refused', field: 'name' });

  it('runs the plain foreground forms itself, sending the body the Node CLI sends', async () => {
    const sock = ['-H', `unix://${fake.socket}`];
    const forms = [
      ['run', '--network', 'none', '--', 'true'],
      ['run', '--', 'true'],
      ['run', '--net=host', '--', 'true'],
      ['run', '--network', 'container:web', '--', 'true'],
      [
        'run',
        '--name',
        'web',
        '--hostname',
        'h1',
        '--dns',
        '10.0.0.53',
        '--dns=10.0.0.54',
        '--network',
        'front',
        '--net',
        'back',
        '--',
        'sh',
        '-c',
        'x',
      ],
      ['run', '--name=', '--dns=', '--', 'true'],
      ['run', '--name', 'é"\\\t☃𝄞', '--', 'true'],
      ['run', '-d', '--network', 'none', '--', 'true'],
      ['run', '--detach', '--name', 'srv', '--network', 'front', '--', 'true'],
    ];
    for (const f of forms) {
      const r = await same([...sock, ...f], [refused]);
      assert.ok(r.launcherRan, `${f.join(' ')}: run by the launcher`);
      assert.equal(r.seen.length, 1);
      assert.equal(r.seen[0]!.method, 'POST');
      assert.equal(r.seen[0]!.path, '/v1/sandboxes');
      assert.equal(r.code, 2);
    }
    const viaEnv = await same(['run', '--network', 'none', '--', 'true'], [refused], { WEFT_HOST: `unix://${fake.socket}` });
    assert.ok(viaEnv.launcherRan, 'WEFT_HOST is read as the Node CLI reads it');
    const viaOld = await same(['run', '--network', 'none', '--', 'true'], [refused], { WEFT_SOCKET: fake.socket });
    assert.ok(viaOld.launcherRan, 'and WEFT_SOCKET');
  });

  it('hands every other form to the Node CLI', async () => {
    const sock = ['-H', fake.socket];
    const forms = [
      ['run', '--network', 'front,alias=www', '--', 'true'],
      ['run', '--network', 'none', '--network', 'front', '--', 'true'],
      ['run', '--network', 'container:', '--', 'true'],
      ['run', '-dP', '--network', 'none', '--', 'true'],
      ['run', '-d', '-p', '80:80', '--', 'true'],
      ['run', '--label', 'a=b', '--', 'true'],
      ['run', '--format', 'json', '--', 'true'],
      ['run', '--network', 'none', 'true'],
      ['run', '--name', '--', 'true'],
      ['run', '--network', 'none', '--'],
      ['network', 'ls'],
      ['--version'],
      ['run', '--help'],
    ];
    for (const f of forms) {
      const r = await same([...sock, ...f], [refused]);
      assert.ok(!r.launcherRan, `${f.join(' ')}: run by the Node CLI`);
    }
    const tcp = await same(['-H', 'tcp://127.0.0.1:2375', 'run', '--', 'true'], [refused]);
    assert.equal(tcp.code, 2, tcp.stderr);
    const eq = await same(['-H=' + fake.socket, 'run', '--', 'true'], [refused]);
    assert.ok(!eq.launcherRan, '-H=X is commander’s "=X"');
  });

  it('prints weftd’s errors as the Node CLI does: message, code, exit 2 for bad input, else 1', async () => {
    const sock = ['-H', fake.socket];
    const args = [...sock, 'run', '--network', 'none', '--', 'true'];
    const replies = [
      errorReply(409, { code: 'WEFT_CONFLICT', message: 'sandbox with name "web" already exists', field: 'name' }),
      errorReply(500, { code: 'WEFT_INTERNAL', message: 'boom %s %d' }),
      errorReply(400, { code: 'WEFT_INVALID_ARGUMENT', message: 'dns[0]: "x\u0001y" / é ☃ 𝄞 "q" \\ is not an address' }),
      errorReply(500, undefined),
      errorReply(503, undefined, ''),
      errorReply(502, undefined, '<html>bad gateway</html>'),
      errorReply(500, undefined, '[1,2]'),
    ];
    for (const reply of replies) {
      const r = await same(args, [reply]);
      assert.ok(r.launcherRan);
      assert.match(r.stderr, /^Error: /, r.stderr);
      assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('Error')).length, 1, 'printed once');
    }
    const missing = await same(['-H', path.join(dir, 'none.sock'), 'run', '--', 'true'], [refused]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot reach weftd at .*none\.sock.*\[WEFT_DAEMON_UNREACHABLE\]/);
  });

  it(
    'starts the command, forwards its status and removes the sandbox (DELETE; NOT_FOUND is fine, other errors print)',
    { skip: process.getuid?.() !== 0 && 'weft-exec needs root for its mount and UTS namespaces' },
    async () => {
      const created: Reply = {
        status: 201,
        body: JSON.stringify({ id: 'abc123', name: 'sb', netnsPath: '/proc/self/ns/net', hostname: '', labels: {}, endpoints: [] }),
      };
      const removed: Reply = { status: 200, body: JSON.stringify({ removed: 'sb', id: 'abc123' }) };
      const args = ['-H', fake.socket, 'run', '--network', 'none', '--', 'sh', '-c', 'echo out; echo err >&2; exit 5'];
      const ok = await same(args, [created, removed]);
      assert.ok(ok.launcherRan);
      assert.equal(ok.code, 5);
      assert.equal(ok.stdout, 'out\n');
      assert.deepEqual(
        ok.seen.map((s) => `${s.method} ${s.path}`),
        ['POST /v1/sandboxes', 'DELETE /v1/sandboxes/abc123'],
      );
      await same(args, [created, errorReply(404, { code: 'WEFT_NOT_FOUND', message: 'sandbox "abc123" not found' })]);
      const failed = await same(args, [created, errorReply(500, { code: 'WEFT_KERNEL', message: 'netns busy' })]);
      assert.equal(failed.code, 1);
      const signalled = await same(['-H', fake.socket, 'run', '--', 'sh', '-c', 'kill -TERM $$'], [created, removed]);
      assert.equal(signalled.code, 128 + 15);
      const notFound = await same(['-H', fake.socket, 'run', '--', '/no/such/cmd'], [created, removed]);
      assert.equal(notFound.code, 127);
    },
  );

  it(
    '-d: starts the command in the background, hands the sandbox to its pid (PATCH) and prints the id',
    { skip: process.getuid?.() !== 0 && 'weft-exec needs root for its mount and UTS namespaces' },
    async () => {
      const hostsDir = mkdtempSync(path.join(dir, 'sb-'));
      writeFileSync(path.join(hostsDir, 'hosts'), '127.0.0.1 localhost\n'); // weft-exec binds it over /etc/hosts
      const created: Reply = {
        status: 201,
        body: JSON.stringify({
          id: 'abc123',
          name: 'sb',
          netnsPath: '/proc/self/ns/net',
          hostsPath: path.join(hostsDir, 'hosts'),
          hostname: '',
          labels: {},
          endpoints: [],
        }),
      };
      const patched: Reply = { status: 200, body: JSON.stringify({ id: 'abc123', name: 'sb', labels: {}, endpoints: [] }) };
      const removed: Reply = { status: 200, body: JSON.stringify({ removed: 'sb', id: 'abc123' }) };
      const args = ['-H', fake.socket, 'run', '-d', '--network', 'none', '--', 'sh', '-c', 'echo logged; sleep 2'];
      const ok = await same(args, [created, patched]);
      assert.ok(ok.launcherRan);
      assert.equal(ok.code, 0);
      assert.equal(ok.stdout, 'abc123\n');
      assert.deepEqual(
        ok.seen.map((s) => `${s.method} ${s.path}`),
        ['POST /v1/sandboxes', 'PATCH /v1/sandboxes/abc123'],
      );
      const handed = ok.seen[1]!.body?.pid as number;
      assert.ok(Number.isInteger(handed) && handed !== ok.pid, 'the command’s pid, not the launcher’s');
      // The PATCH is refused and the command still runs: it is stopped and the sandbox removed, the error printed.
      const refusedPatch = await same(args, [created, errorReply(409, { code: 'WEFT_CONFLICT', message: 'busy' }), removed]);
      assert.equal(refusedPatch.code, 1);
      assert.match(refusedPatch.stderr, /^Error: busy \[WEFT_CONFLICT\]/);
      assert.deepEqual(
        refusedPatch.seen.map((s) => s.method),
        ['POST', 'PATCH', 'DELETE'],
      );
      // Both runs' commands append to the sandbox's output.log.
      await new Promise((r) => setTimeout(r, 300));
      assert.match(readFileSync(path.join(hostsDir, 'output.log'), 'utf8'), /^logged\nlogged\n/);
    },
  );
});
