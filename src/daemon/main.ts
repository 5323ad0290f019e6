/** weftd command line. */
import path from 'node:path';
import { Command } from 'commander';
import { configFromFlags } from '../config/daemon-config.js';
import { startDaemon } from './weftd.js';
import { createLogger } from '../logger.js';
import { onPhase } from '../phase-trace.js';
import { asWeftError, type WeftError } from '../errors.js';
import { engineRunProblem } from '../controller/open-engine.js';
import { collect } from '../repeatable-option.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('weftd')
    .description('weft daemon: container networking on the real Linux kernel')
    .option('--state-dir <dir>', 'state directory (store)', '/var/lib/weft')
    .option('--run-dir <dir>', 'runtime directory (namespaces, sandbox files, socket)', '/run/weft')
    .option('--socket <path>', 'API socket path (default: <run-dir>/weft.sock)')
    .option('--store <url>', 'store URL: sqlite:///path/weft.db (default under --state-dir) or memory:')
    .option('--default-address-pool <spec>', 'base=CIDR,size=N (repeatable); replaces the built-in pools', collect)
    .option('--default-bridge-subnet <cidr>', 'subnet of the default "bridge" network', '172.17.0.0/16')
    .option('--default-bridge-name <ifname>', 'interface name of the default bridge', 'weft0')
    .option('--dns-upstream <ip>', 'resolver the embedded DNS forwards to (repeatable)', collect)
    .option('--resync-ms <ms>', 'liveness check period', '1000')
    .option('--full-resync-ms <ms>', 'period of the full kernel pass (drift is also repaired from kernel events)', '30000')
    .option('--firewall <backend>', 'nftables or none', 'nftables')
    .option('--cluster-store <url>', 'join a cluster: etcd://IP:2379[,IP:2379…] (etcds:// for TLS)')
    .option('--cluster-store-cert <file>', 'client certificate for the cluster store (TLS)')
    .option('--cluster-store-key <file>', 'client key for the cluster store (TLS)')
    .option('--cluster-store-ca <file>', 'CA that signed the cluster store server (TLS)')
    .option('--advertise-addr <ip|iface>', 'underlay address other hosts reach this one at (default: the default route interface)')
    .option('--host-id <id>', "this host's id in the cluster (default: generated once, kept in --state-dir)")
    .option('--host-name <name>', 'name shown by `weft host ls` (default: the host id)')
    .option('--host-ttl-ms <ms>', "lease TTL of this host's liveness key (default 5000)")
    .option('--host-grace-ms <ms>', 'how long a down host keeps its endpoints and blocks before they are removed (default 30000)')
    .option('--subnet-lease-ttl-ms <ms>', "TTL of this host's subnet leases of hostsubnet networks, renewed (default 86400000)")
    .option('--metrics-addr <ip:port>', 'serve Prometheus metrics at http://IP:PORT/metrics (off by default)')
    .option('--bgp', "announce this host's IPAM blocks over BGP through a supervised BIRD 2 (needs --cluster-store)")
    .option('--bgp-as <n>', 'default AS number when the store has no bgp/config (default 64512)')
    .option('--bgp-bird <path>', 'the bird executable (default: from PATH)')
    .option('--policy', "enforce the cluster's network policies on this host's endpoints (needs --cluster-store)")
    .option('--mesh', 'join a store-less mesh (on with any --mesh-* flag)')
    .option('--mesh-peer <ip[:port]>', 'mesh peer to connect to (repeatable)', collect)
    .option('--mesh-port <port>', 'mesh port, TCP control and UDP data (default 6783)')
    .option('--mesh-listen <ip>', 'address to listen on for the mesh (default: the underlay address)')
    .option('--mesh-name <name>', "this peer's mesh name (default: the host name)")
    .option('--mesh-password-file <file>', 'shared secret (0600): peers authenticate and traffic is encrypted')
    .option('--mesh-range <cidr>', 'address range the mesh splits between peers (default 10.32.0.0/12)')
    .option('--mesh-ipalloc-init <how>', 'seed=NAME,NAME… | claim | join (default: claim without peers, else join)')
    .option('--mesh-probe-ms <ms>', 'membership probe interval (default 1000)')
    .option('--mesh-no-fastpath', 'keep all mesh traffic on the sleeve (no kernel VXLAN fast path)')
    .option(
      '--docker-plugin-socket <path>',
      'Docker network/IPAM plugin socket (default: <run-dir>/../docker/plugins/weft.sock, i.e. /run/docker/plugins/weft.sock; empty = off)',
    );
  program.parse(argv);
  const log = createLogger();
  // Benchmarks read where a request's time goes from these lines (bench/overlay-convergence.ts).
  if (process.env.WEFT_TRACE_PHASES === '1') onPhase((m) => log.info({ ...m }, 'phase'));
  const notPrivileged = engineRunProblem();
  if (notPrivileged) {
    // Before any directory, socket or kernel object is touched: say it plainly and stop.
    process.stderr.write(`weftd: ${notPrivileged}\n`);
    process.exit(1);
  }
  try {
    const config = configFromFlags(program.opts());
    const dockerSock =
      program.opts<{ dockerPluginSocket?: string }>().dockerPluginSocket ??
      path.join(path.dirname(config.runDir), 'docker/plugins/weft.sock');
    const d = await startDaemon(config, log, dockerSock ? { dockerPluginSocket: path.resolve(dockerSock) } : {});
    let stopping = false;
    const stop = (why: Record<string, unknown>, code: number): void => {
      if (stopping) return; // a signal during a stop already under way
      stopping = true;
      log.info(why, 'stopping (networks stay up)');
      d.stop().then(
        () => process.exit(code),
        (err: unknown) => {
          log.error({ err: String(err) }, 'stopping failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => stop({ sig: 'SIGTERM' }, 0));
    process.once('SIGINT', () => stop({ sig: 'SIGINT' }, 0));
    // Refused by the cluster after a start without it (another live host holds this host's id):
    // the same line and exit status as a start refused for that reason, once weftd has stopped.
    void d.failed.then((e) => {
      refused(e);
      stop({ reason: 'refused by the cluster store' }, 1);
    });
  } catch (err) {
    refused(asWeftError(err));
    process.exit(1);
  }

  function refused(e: WeftError): void {
    log.error({ code: e.code, field: e.field }, e.message);
  }
}
