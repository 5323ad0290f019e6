/**
 * The compiled CNI entry point (cni/weft-cni.c), built twice by scripts/build-cni.sh — once as
 * shipped (-Wall -Wextra -Werror) and once with AddressSanitizer + UndefinedBehaviorSanitizer —
 * and run against a fake weftd on a unix socket: reply framing in any key order, every error
 * path printing a CNI error JSON (never a silent SIGPIPE death), the size limits, the fallback,
 * and that nothing in the network configuration chooses the socket or the program run.
 * Needs root (the install configuration must be root-owned) and a C compiler (the build step's).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeInstallConfig, CNI_INSTALL_CONFIG } from '../../src/cli/cni-install-config.js';
import { MAX_BODY } from '../../src/api/rest/rest-server.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SOURCE = path.join(REPO, 'cni/weft-cni.c');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  json?: { code?: number; msg?: string; details?: string; cniVersion?: string } & Record<string, unknown>;
}

/** A fake weftd: records requests; `reply` decides the raw HTTP response (or undefined: hang up). */
interface Fake {
  path: string;
  requests: string[];
  reply: (body: string) => string | undefined;
  close(): Promise<void>;
}

async function fakeWeftd(p: string): Promise<Fake> {
  const fake: Fake = {
    path: p,
    requests: [],
    reply: () => http200(JSON.stringify({ exitCode: 0 })),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server = net.createServer((sock) => {
    let data = Buffer.alloc(0);
    sock.on('error', () => undefined);
    sock.on('data', (c: Buffer) => {
      data = Buffer.concat([data, c]);
      const head = data.indexOf('\r\n\r\n');
      if (head < 0) return;
      const len = Number(/content-length: (\d+)/i.exec(data.subarray(0, head).toString())?.[1] ?? 0);
      if (data.length < head + 4 + len) return;
      const body = data.subarray(head + 4, head + 4 + len).toString();
      fake.requests.push(body);
      const out = fake.reply(body);
      if (out === undefined) sock.destroy();
      else sock.end(out);
    });
  });
  await new Promise<void>((r) => server.listen(p, r));
  return fake;
}

const http200 = (body: string, extraHead = ''): string =>
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extraHead}\r\n${body}`;

function runShim(bin: string, stdin: string | Buffer, opts: { env?: Record<string, string>; closeStdout?: boolean } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(bin, [], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: 'ctr1',
        CNI_NETNS: '/run/netns/x',
        CNI_IFNAME: 'eth0',
        CNI_PATH: '/opt/cni/bin',
        // Leaks at exit are not bugs of a process that exits; everything else the sanitizers see is.
        ASAN_OPTIONS: 'detect_leaks=0',
        UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
        ...opts.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    if (opts.closeStdout) child.stdout.destroy();
    else child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let json: Run['json'];
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Run['json']) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, signal, stdout, stderr, json });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

const conf = (extra: Record<string, unknown> = {}): string => JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'weft', ...extra });

describe('CNI shim (cni/weft-cni.c)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'weft-shim-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("uses weftd's own request size limit", () => {
    const m = /#define WEFT_MAX_BODY \(1u << (\d+)\)/.exec(readFileSync(SOURCE, 'utf8'));
    assert.ok(m, 'WEFT_MAX_BODY is defined');
    assert.equal(1 << Number(m[1]), MAX_BODY, "the shim's limit is weftd's");
  });

  for (const variant of ['shipped', 'sanitized'] as const) {
    describe(`${variant} build`, () => {
      let bin: string;
      let fake: Fake;
      let evil: Fake;

      before(async () => {
        const out = path.join(dir, variant);
        mkdirSync(out, { recursive: true });
        // The same flags the build step uses; -Werror makes any warning fail this test.
        execFileSync(path.join(REPO, 'scripts/build-cni.sh'), ['--out', out, ...(variant === 'sanitized' ? ['--sanitize'] : [])], {
          stdio: 'inherit',
        });
        bin = path.join(out, 'weft');
        fake = await fakeWeftd(path.join(out, 'weftd.sock'));
        evil = await fakeWeftd(path.join(out, 'evil.sock'));
        const main = path.join(out, 'fake-main.js');
        writeFileSync(
          main,
          `const fs = require('fs'); const stdin = fs.readFileSync(0, 'utf8');
           process.stdout.write(JSON.stringify({ fallback: true, plugin: process.argv[2], stdin, stateDir: process.env.WEFT_STATE_DIR }) + '\\n');`,
        );
        writeInstallConfig(out, { socket: fake.path, node: process.execPath, main, stateDir: '/var/lib/weft-test' });
      });
      after(async () => {
        await fake?.close();
        await evil?.close();
      });

      /** Common checks: the sanitizers saw nothing, and the process was not killed by a signal. */
      const clean = (r: Run): void => {
        assert.equal(r.signal, null, `not killed by a signal (${r.signal}): ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /Sanitizer|runtime error/, r.stderr);
      };
      /** A CNI error JSON; it carries the request's cniVersion when the request could be read whole. */
      const cniError = (r: Run, code: number, msg: RegExp, version = '1.0.0'): void => {
        clean(r);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.equal(r.json?.code, code, r.stdout);
        assert.match(`${r.json?.msg} ${r.json?.details ?? ''}`, msg);
        assert.equal(r.json?.cniVersion, version);
      };

      it('forwards the invocation and prints output whatever the key order of the reply', async () => {
        const output = { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24' }], note: '{"exitCode":9,"output":"}"}' };
        fake.reply = () => http200(`{ "output" : ${JSON.stringify(output)} , "extra": [1, {"a": null}], "exitCode" : 0 }`);
        fake.requests = [];
        const r = await runShim(bin, conf());
        clean(r);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.json, output);
        const req = JSON.parse(fake.requests[0]!) as { plugin: string; env: Record<string, string>; stdin: string };
        assert.equal(req.plugin, 'weft');
        assert.equal(req.env.CNI_COMMAND, 'ADD');
        assert.equal(req.env.CNI_CONTAINERID, 'ctr1');
        assert.equal(req.stdin, conf());
        fake.reply = () => http200(JSON.stringify({ exitCode: 7, output: { cniVersion: '1.0.0', code: 7, msg: 'bad' } }));
        const e = await runShim(bin, conf());
        clean(e);
        assert.equal(e.code, 7, 'exit code from the reply');
        assert.equal(e.json?.msg, 'bad');
      });

      it('reports every malformed reply as a CNI error (code 999)', async () => {
        for (const body of [
          '{"exitCode":0,"output":{',
          '{"exitCode":"0"}',
          '{"exitCode":300}',
          '{"exitCode":-1}',
          '[]',
          '{"exitCode":0,"exitCode":1}',
          '{"exitCode":0} trailing',
          '{"output":{}}',
          '{"exitCode":0,"output":[1]}',
          '{"exitCode":0,"output":{"a":"\u0001"}}',
          `{"exitCode":0,"output":${'['.repeat(500)}${']'.repeat(500)}}`,
        ]) {
          fake.reply = () => http200(body);
          const r = await runShim(bin, conf());
          cniError(r, 999, /malformed reply/);
        }
        fake.reply = () => `HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"exitCode":0}`;
        cniError(await runShim(bin, conf()), 999, /malformed reply/);
        fake.reply = () => 'garbage';
        cniError(await runShim(bin, conf()), 999, /malformed reply/);
        fake.reply = () => `HTTP/1.1 500 Internal\r\ncontent-length: 2\r\n\r\n{}`;
        cniError(await runShim(bin, conf()), 999, /refused the request/);
        fake.reply = () => http200(JSON.stringify({ exitCode: 0, output: { big: 'x'.repeat(5 << 20) } }));
        cniError(await runShim(bin, conf()), 999, /too large/);
        fake.reply = () => undefined;
        cniError(await runShim(bin, conf()), 11, /without answering|closed/);
      });

      it('refuses configurations weftd would refuse, with an error JSON and no request (1.1 MB, 2 MB, escaped)', async () => {
        fake.reply = () => http200('{"exitCode":0}');
        for (const size of [1_100_000, 2_000_000]) {
          fake.requests = [];
          const r = await runShim(bin, conf({ pad: 'x'.repeat(size) }));
          cniError(r, 7, /too large/, '1.1.0'); // not read whole: the latest version is named
          assert.equal(fake.requests.length, 0, 'nothing was sent');
        }
        // 600 KB of escaped quotes (valid JSON, under the limit) become 1.2 MB once escaped again
        // into the request: refused before sending too.
        fake.requests = [];
        cniError(await runShim(bin, conf({ pad: '"'.repeat(300_000) })), 7, /would be \d+ bytes/);
        assert.equal(fake.requests.length, 0);
        const ok = await runShim(bin, conf({ pad: 'x'.repeat(900_000) }));
        clean(ok);
        assert.equal(ok.code, 0, 'within the limit it goes through');
      });

      it('a weftd that hangs up mid-request is an error JSON, not a SIGPIPE death', async () => {
        const rude = net.createServer((s) => s.destroy());
        const p = path.join(dir, variant, 'rude.sock');
        await new Promise<void>((r) => rude.listen(p, r));
        try {
          const r = await runShim(bin, conf({ pad: 'x'.repeat(900_000) }), { env: { WEFT_SOCKET: p } });
          cniError(r, 11, /closed|reading/);
        } finally {
          rude.close();
        }
      });

      it('a runtime that closed stdout gets an exit status, not a signal', async () => {
        fake.reply = () => http200(JSON.stringify({ exitCode: 0, output: { cniVersion: '1.0.0' } }));
        const r = await runShim(bin, conf(), { closeStdout: true });
        clean(r);
        assert.notEqual(r.code, 0);
      });

      it('never takes the socket or the program from the network configuration', async () => {
        fake.requests = [];
        evil.requests = [];
        fake.reply = () => http200('{"exitCode":0,"output":{"cniVersion":"1.0.0"}}');
        const poisoned = conf({
          weftSocket: evil.path,
          weftRepo: '/tmp/evil',
          args: { weftSocket: evil.path, weftRepo: '/tmp/evil', cni: {} },
          runtimeConfig: { weftSocket: evil.path },
        });
        const r = await runShim(bin, poisoned);
        clean(r);
        assert.equal(r.code, 0);
        assert.equal(evil.requests.length, 0, 'the socket named in the configuration received nothing');
        assert.equal(fake.requests.length, 1, 'the installed socket received the request');
      });

      it('runs the installed fallback when weftd is not there (or too old), replaying stdin', async () => {
        const cfg = conf({ pad: 'y'.repeat(70_000), weftRepo: '/tmp/evil' });
        const missing = await runShim(bin, cfg, { env: { WEFT_SOCKET: path.join(dir, 'nothing.sock') } });
        clean(missing);
        assert.equal(missing.code, 0, missing.stderr);
        assert.deepEqual(missing.json, { fallback: true, plugin: 'weft', stdin: cfg, stateDir: '/var/lib/weft-test' });
        fake.reply = () => `HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}`;
        const old = await runShim(bin, cfg);
        clean(old);
        assert.equal(old.json?.fallback, true, 'a weftd without the CNI route');
      });

      it('refuses an install configuration others could have written', async () => {
        const file = path.join(dir, variant, CNI_INSTALL_CONFIG);
        fake.requests = [];
        chmodSync(file, 0o666);
        try {
          cniError(await runShim(bin, conf()), 5, /not trusted/);
          assert.equal(fake.requests.length, 0);
        } finally {
          chmodSync(file, 0o644);
        }
      });
    });
  }
});
