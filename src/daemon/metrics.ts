/**
 * weftd's Prometheus metrics (prom-client), served on an opt-in TCP address (`--metrics-addr`).
 * Gauges are read when scraped (networks, endpoints, hosts); counters and histograms are fed by
 * the daemon as things happen (reconcile passes, drift repairs, store latency, errors by code).
 * Drivers get their counters from `driverCounter` so every driver reports the same way.
 */
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../logger.js';

export interface MetricsSources {
  networks(): Promise<number>;
  endpoints(): Promise<number>;
  /** Hosts by state (cluster mode), else undefined. */
  hosts?(): Record<string, number>;
}

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'weft_reconcile_total',
    help: 'Reconcile passes',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: 'weft_reconcile_duration_seconds',
    help: 'Duration of reconcile passes',
    labelNames: ['kind'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly driftRepairs = new Counter({
    name: 'weft_drift_repairs_total',
    help: 'Kernel objects repaired after drift',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly storeSeconds = new Histogram({
    name: 'weft_store_request_duration_seconds',
    help: 'Store request latency',
    labelNames: ['backend', 'op', 'outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'weft_errors_total',
    help: 'Errors returned by the API, by code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  private readonly driverCounters = new Map<string, Counter>();

  constructor(sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'weftd_' });
    new Gauge({
      name: 'weft_networks',
      help: 'Networks in the store',
      registers: [this.registry],
      async collect() {
        this.set(await sources.networks());
      },
    });
    new Gauge({
      name: 'weft_endpoints',
      help: 'Endpoints in the store',
      registers: [this.registry],
      async collect() {
        this.set(await sources.endpoints());
      },
    });
    if (sources.hosts) {
      const hosts = sources.hosts.bind(sources);
      new Gauge({
        name: 'weft_cluster_hosts',
        help: 'Cluster hosts as this host sees them, by state',
        labelNames: ['state'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [state, n] of Object.entries(hosts())) this.set({ state }, n);
        },
      });
    }
  }

  /** A counter a driver increments (e.g. peers programmed), created once per name. */
  driverCounter(driver: string, name: string, help: string): Counter {
    const full = `weft_driver_${driver}_${name}_total`;
    let c = this.driverCounters.get(full);
    if (!c) this.driverCounters.set(full, (c = new Counter({ name: full, help, labelNames: [], registers: [this.registry] })));
    return c;
  }

  /** Serve GET /metrics on host:port; resolves once listening. */
  async serve(addr: { host: string; port: number }, log: Logger): Promise<{ close(): Promise<void> }> {
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': this.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          log.error({ err: String(err) }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, () => resolve());
    });
    log.info({ addr: `${addr.host}:${addr.port}` }, 'metrics listening');
    return { close: () => new Promise<void>((r) => server.close(() => r())) };
  }
}
