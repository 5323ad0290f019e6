/**
 * WireGuard in userspace (`wireguard-go`) as an encrypted underlay between hosts, for kernels
 * without IPsec ESP and without the WireGuard module (this one). One device per host, started
 * and watched by the Supervisor (foreground `-f`: daemon mode fails here with "too many open
 * files"); configured with `wg` through its control socket, which lives on the shared
 * filesystem (/var/run/wireguard/NAME.sock) — so device names must be unique per machine, not
 * just per namespace. The private key is made here, kept in a 0600 file and never leaves it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KernelError, MissingProgramError } from '../errors.js';
import type { Supervisor } from './supervisor.js';
import { resolveProgram } from './program-path.js';
import { kernelModuleState, type ModuleState } from './tunnel-support.js';

export interface WgPeer {
  publicKey: string;
  /** "IP:port" of the peer's underlay. */
  endpoint: string;
  allowedIps: string[];
}

const WG_SOCKET_DIR = '/var/run/wireguard';
const KEY_RE = /^[A-Za-z0-9+/]{43}=$/;

/** What the kernel offers for encrypting host-to-host traffic (asked without loading anything). */
export function encryptionSupport(): { esp: ModuleState; wireguard: ModuleState; wireguardGo: boolean } {
  let wireguardGo = true;
  try {
    resolveProgram('wireguard-go', 'wireguard-go');
  } catch (err) {
    if (!(err instanceof MissingProgramError)) throw err;
    wireguardGo = false;
  }
  return { esp: kernelModuleState('esp4'), wireguard: kernelModuleState('wireguard'), wireguardGo };
}

function wg(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('wg', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new KernelError(`wg ${args.slice(0, 2).join(' ')}`, String(stderr).trim() || err.message, { cause: err }));
      else resolve(String(stdout));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export interface WireguardGoOptions {
  supervisor: Supervisor;
  /** Pid and log files of the wireguard-go processes. */
  runDir: string;
  /** Where each device's private key is kept (0600). */
  keyDir: string;
  /** Namespace the devices are made in (the daemon's by default). */
  netns?: string;
}

/** Devices run by wireguard-go under the supervisor, configured with `wg`. */
export class WireguardGo {
  constructor(private readonly o: WireguardGoOptions) {}

  private async privateKeyFile(name: string): Promise<string> {
    mkdirSync(this.o.keyDir, { recursive: true, mode: 0o700 });
    const file = path.join(this.o.keyDir, `${name}.key`);
    if (existsSync(file) && KEY_RE.test(readFileSync(file, 'utf8').trim())) return file;
    const key = (await wg(['genkey'])).trim();
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
    return file;
  }

  /** Ensure the device runs with this host's key and port; returns its public key. */
  async ensureDevice(name: string, listenPort: number): Promise<{ publicKey: string }> {
    const supName = `wg-${name}`;
    const p =
      this.o.supervisor.get(supName) ??
      this.o.supervisor.add({
        name: supName,
        program: 'wireguard-go',
        packageName: 'wireguard-go',
        args: ['-f', name],
        runDir: this.o.runDir,
        ...(this.o.netns ? { netns: this.o.netns } : {}),
        ready: { socket: `${WG_SOCKET_DIR}/${name}.sock` },
      });
    await p.ensure();
    await wg(['set', name, 'private-key', await this.privateKeyFile(name), 'listen-port', String(listenPort)]);
    return { publicKey: (await wg(['show', name, 'public-key'])).trim() };
  }

  /** Make the device's peers exactly these (others removed; existing ones updated in place). */
  async setPeers(name: string, peers: readonly WgPeer[]): Promise<void> {
    const live = (await wg(['show', name, 'peers'])).split('\n').filter(Boolean);
    const want = new Set(peers.map((p) => p.publicKey));
    const args = ['set', name];
    for (const k of live) if (!want.has(k)) args.push('peer', k, 'remove');
    for (const p of peers) {
      if (!KEY_RE.test(p.publicKey)) throw new KernelError('wg set', `"${p.publicKey}" is not a WireGuard public key`);
      args.push('peer', p.publicKey, 'endpoint', p.endpoint, 'allowed-ips', p.allowedIps.join(','), 'persistent-keepalive', '25');
    }
    if (args.length > 2) await wg(args);
  }

  /** Stop the device's process (its TUN device goes with it). */
  async removeDevice(name: string): Promise<void> {
    await this.o.supervisor.remove(`wg-${name}`);
  }
}
