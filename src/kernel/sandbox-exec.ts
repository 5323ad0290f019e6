/**
 * Entry point run (by `weft run`) inside fresh mount+UTS namespaces:
 *   sandbox-exec NETNS HOSTS RESOLV HOSTNAME -- CMD ARGS…
 * Binds HOSTS/RESOLV over /etc/hosts and /etc/resolv.conf, sets the hostname, enters the
 * network namespace and execs CMD. setns runs on the main thread here on purpose: this
 * process is about to be replaced by CMD, so no other work can observe the switch.
 */
import { openSync } from 'node:fs';
import { libc } from './libc.js';

const MS_BIND = 4096;
const CLONE_NEWNET = 0x40000000;

function fail(msg: string): never {
  process.stderr.write(`weft: ${msg}\n`);
  process.exit(127);
}

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
if (sep !== 4 || argv.length < 6) fail('usage: sandbox-exec NETNS HOSTS RESOLV HOSTNAME -- CMD [ARGS…]');
const [netns, hosts, resolv, hostname] = argv as [string, string, string, string];
const cmd = argv.slice(sep + 1);
const c = libc();
if (hosts && c.mount(hosts, '/etc/hosts', null, MS_BIND, null) !== 0) fail(`bind ${hosts} on /etc/hosts: ${c.lastError()}`);
if (resolv && c.mount(resolv, '/etc/resolv.conf', null, MS_BIND, null) !== 0) fail(`bind ${resolv} on /etc/resolv.conf: ${c.lastError()}`);
if (hostname && c.sethostname(hostname, Buffer.byteLength(hostname)) !== 0) fail(`sethostname: ${c.lastError()}`);
const fd = openSync(netns, 'r');
if (c.setns(fd, CLONE_NEWNET) !== 0) fail(`setns ${netns}: ${c.lastError()}`);
// Node leaves stdio non-blocking and close-on-exec; the command expects neither.
for (const s of [0, 1, 2]) {
  c.fcntl(s, 2 /* F_SETFD */, 0);
  const fl = c.fcntl(s, 3 /* F_GETFL */, 0);
  if (fl >= 0) c.fcntl(s, 4 /* F_SETFL */, fl & ~0o4000 /* O_NONBLOCK */);
}
c.execvp(cmd[0]!, [...cmd, null]);
fail(`exec ${cmd[0]}: ${c.lastError()}`);
