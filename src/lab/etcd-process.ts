/**
 * A real etcd member inside a lab network namespace (`nsenter --net`, never the root
 * namespace): argument vector, data dir, log file, readiness from its log, stop by pid.
 * Used by the lab, the store tests and the benchmarks; the product never starts etcd.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { sleep } from './sim-host.js';

export interface EtcdTlsPaths {
  cert: string;
  key: string;
  ca: string;
}

export interface EtcdMemberSpec {
  name: string;
  /** Network namespace path it runs in (/run/netns/NAME). */
  nsPath: string;
  /** Directory for data, log and the unix socket. */
  dir: string;
  /** Client/peer address inside the namespace. */
  ip: string;
  /** name=http://ip:2380 for every member (itself included). */
  initialCluster: string;
  /** Shared by the members of one cluster (etcd refuses peers with another). */
  clusterToken?: string;
  /** Also listen on a unix socket `<dir>/etcd.sock:0` (reachable from any namespace). */
  unixSocket?: boolean;
  tls?: EtcdTlsPaths;
  /** Raft tick (ms): lab members use etcd's defaults unless told otherwise. */
  heartbeatMs?: number;
  electionMs?: number;
}

export interface EtcdMember {
  name: string;
  pid: number;
  ip: string;
  clientUrl: string;
  /** `etcd+unix://…` when unixSocket was set. */
  unixUrl?: string;
  logFile: string;
}

/** The etcd binary (Debian's etcd-server). */
export const ETCD_BIN = process.env.WEFT_ETCD_BIN ?? '/usr/bin/etcd';

/** Start one member, detached (it outlives the command that started it); resolves when ready. */
export async function startEtcdMember(spec: EtcdMemberSpec, readyTimeoutMs = 20_000): Promise<EtcdMember> {
  if (!existsSync(ETCD_BIN)) throw new Error(`etcd not found at ${ETCD_BIN}: install the etcd-server package`);
  mkdirSync(spec.dir, { recursive: true, mode: 0o700 });
  const scheme = spec.tls ? 'https' : 'http';
  const clientUrl = `${scheme}://${spec.ip}:2379`;
  const listen = [clientUrl, ...(spec.unixSocket ? ['unix://etcd.sock:0'] : [])].join(',');
  const args = [
    `--net=${spec.nsPath}`,
    ETCD_BIN,
    '--name',
    spec.name,
    '--data-dir',
    path.join(spec.dir, 'data'),
    '--listen-client-urls',
    listen,
    '--advertise-client-urls',
    clientUrl,
    '--listen-peer-urls',
    `http://${spec.ip}:2380`,
    '--initial-advertise-peer-urls',
    `http://${spec.ip}:2380`,
    '--initial-cluster',
    spec.initialCluster,
    '--initial-cluster-token',
    spec.clusterToken ?? `weft-${path.basename(spec.dir)}`,
    ...(spec.heartbeatMs ? ['--heartbeat-interval', String(spec.heartbeatMs)] : []),
    ...(spec.electionMs ? ['--election-timeout', String(spec.electionMs)] : []),
    ...(spec.tls ? ['--cert-file', spec.tls.cert, '--key-file', spec.tls.key, '--trusted-ca-file', spec.tls.ca, '--client-cert-auth'] : []),
  ];
  const logFile = path.join(spec.dir, 'etcd.log');
  // A killed member leaves its socket file behind, and etcd will not bind over it.
  if (spec.unixSocket) rmSync(path.join(spec.dir, 'etcd.sock:0'), { force: true });
  const logStart = existsSync(logFile) ? statSync(logFile).size : 0;
  const fd = openSync(logFile, 'a');
  // cwd = dir: etcd names its unix socket relative to its working directory.
  const child = spawn('nsenter', args, { cwd: spec.dir, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start etcd member ${spec.name}`);
  const member: EtcdMember = {
    name: spec.name,
    pid: child.pid,
    ip: spec.ip,
    clientUrl,
    logFile,
    ...(spec.unixSocket ? { unixUrl: `etcd+unix://${path.join(spec.dir, 'etcd.sock:0')}` } : {}),
  };
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    const log = existsSync(logFile) ? readFileSync(logFile).subarray(logStart).toString('utf8') : '';
    if (log.includes('ready to serve client requests')) return member;
    if (child.exitCode !== null || !pidAlive(child.pid)) throw new Error(`etcd member ${spec.name} exited: ${log.slice(-2000)}`);
    if (Date.now() > deadline) {
      killPid(child.pid);
      throw new Error(`etcd member ${spec.name} not ready after ${readyTimeoutMs} ms: ${log.slice(-2000)}`);
    }
    await sleep(100);
  }
}

/** Whether a pid names a live process. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kill one process we started, by pid; already gone is fine. */
export function killPid(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Kill a pid and wait (bounded) until it is gone. */
export async function killAndWait(pid: number, signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 5000): Promise<void> {
  killPid(pid, signal);
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid) && !isZombie(pid)) {
    if (Date.now() > deadline) {
      killPid(pid, 'SIGKILL');
      return;
    }
    await sleep(20);
  }
}

function isZombie(pid: number): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ''));
  } catch {
    return true; // gone while we looked
  }
}
