/**
 * A real etcd for one test file: its own network namespace (random name), a data dir under
 * /tmp, a unix socket the test process reaches from the root namespace without touching it,
 * stop/start for outage tests, and cleanup of exactly what it started.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { deleteNetnsWithProcesses, mustRun } from '../../src/lab/sim-host.js';
import { killAndWait, startEtcdMember, type EtcdMember, type EtcdTlsPaths } from '../../src/lab/etcd-process.js';

export class EtcdHarness {
  readonly ns = `weft-t-etcd-${randomBytes(3).toString('hex')}`;
  readonly nsPath = `/run/netns/${this.ns}`;
  readonly dir = mkdtempSync('/tmp/weft-etcd-');
  member?: EtcdMember;

  constructor(private readonly tls?: EtcdTlsPaths) {}

  /** etcd+unix URL of the running member. */
  get url(): string {
    if (!this.member?.unixUrl) throw new Error('etcd not started');
    return this.member.unixUrl;
  }

  async start(): Promise<void> {
    await mustRun('ip', ['netns', 'add', this.ns]);
    await mustRun('ip', ['-n', this.ns, 'link', 'set', 'lo', 'up']);
    await this.resume();
  }

  /** (Re)start the member on the same data dir. */
  async resume(): Promise<void> {
    this.member = await startEtcdMember({
      name: 'e1',
      nsPath: this.nsPath,
      dir: this.dir,
      ip: '127.0.0.1',
      initialCluster: 'e1=http://127.0.0.1:2380',
      unixSocket: !this.tls,
      ...(this.tls ? { tls: this.tls } : {}),
    });
  }

  /** Kill the member (SIGKILL: an outage, not a shutdown). */
  async kill(): Promise<void> {
    if (this.member) await killAndWait(this.member.pid);
  }

  async cleanup(): Promise<void> {
    if (this.member) await killAndWait(this.member.pid);
    await deleteNetnsWithProcesses([this.ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
