/**
 * What weftd runs beside the engine for operating it: the cluster service when
 * `--cluster-store` is given, and Prometheus metrics when `--metrics-addr` is. One small hook
 * in weftd.ts starts and stops both.
 */
import type { DaemonConfig } from '../config/daemon-config.js';
import type { Controller } from '../controller/controller.js';
import type { ReconcileReport } from '../controller/reconcile.js';
import { WeftError } from '../errors.js';
import type { Router } from '../api/rest/rest-server.js';
import { startClusterService, type ClusterService } from '../cluster/cluster-service.js';
import { DaemonMetrics } from './metrics.js';
import type { Logger } from '../logger.js';

export interface Operations {
  cluster?: ClusterService;
  metrics: DaemonMetrics;
  /** Run one reconcile pass, counting and timing it (and the drift it repaired). */
  timeReconcile(kind: string, fn: () => Promise<ReconcileReport>): Promise<ReconcileReport>;
  stop(): Promise<void>;
}

/**
 * Join the cluster (when configured) before weftd changes anything on the host: a bad cluster
 * flag or a duplicate host id then fails with nothing touched. An unreachable etcd does not:
 * weftd starts with its local scope and the agent joins when the store answers.
 */
export async function joinCluster(config: DaemonConfig, log: Logger): Promise<ClusterService | undefined> {
  if (!config.cluster) return undefined;
  log.info({ store: config.cluster.storeUrl }, 'joining the cluster');
  return startClusterService(config, log);
}

export async function startOperations(
  config: DaemonConfig,
  log: Logger,
  routes: Router,
  controller: Controller,
  cluster?: ClusterService,
): Promise<Operations> {
  if (cluster) {
    const agent = cluster.agent;
    routes.on('GET', '/v1/hosts', async () => ({ body: await agent.hosts() }));
    routes.on('GET', '/v1/hosts/:ref', async (p) => ({ body: await agent.host(p.ref!) }));
  } else {
    const notClustered = async (): Promise<never> => {
      throw new WeftError('WEFT_INVALID_ARGUMENT', 'this weftd is not part of a cluster (start it with --cluster-store etcd://…)', {
        field: 'cluster-store',
      });
    };
    routes.on('GET', '/v1/hosts', notClustered);
    routes.on('GET', '/v1/hosts/:ref', notClustered);
  }
  const agent = cluster?.agent;
  const metrics = new DaemonMetrics({
    networks: async () => (await controller.networks()).length,
    endpoints: async () => controller.endpointCount(),
    ...(agent
      ? {
          hosts: () => {
            const out: Record<string, number> = { up: 0, down: 0 };
            for (const v of agent.view()) out[v.state] = (out[v.state] ?? 0) + 1;
            return out;
          },
        }
      : {}),
  });
  if (cluster) {
    cluster.store.onRequest = (op, ms, ok) =>
      metrics.storeSeconds.observe({ backend: 'etcd', op, outcome: ok ? 'ok' : 'error' }, ms / 1000);
    agent?.on('storeDown', (err: Error) => metrics.errors.inc({ code: err instanceof WeftError ? err.code : 'WEFT_INTERNAL' }));
  }
  let server: { close(): Promise<void> } | undefined;
  try {
    if (config.metricsAddr) server = await metrics.serve(config.metricsAddr, log);
  } catch (err) {
    await cluster?.stop();
    throw new WeftError(
      'WEFT_INVALID_ARGUMENT',
      `cannot listen for metrics on ${config.metricsAddr!.host}:${config.metricsAddr!.port}: ${(err as Error).message}`,
      {
        field: 'metrics-addr',
        cause: err,
      },
    );
  }
  return {
    ...(cluster ? { cluster } : {}),
    metrics,
    async timeReconcile(kind, fn) {
      const end = metrics.reconcileSeconds.startTimer({ kind });
      try {
        const r = await fn();
        metrics.reconciles.inc({ kind });
        const repaired = r.orphansRemoved.length + r.sandboxesReaped.length;
        if (repaired > 0) metrics.driftRepairs.inc({ kind }, repaired);
        for (let i = 0; i < r.errors.length; i++) metrics.errors.inc({ code: 'WEFT_RECONCILE' });
        return r;
      } finally {
        end();
      }
    },
    async stop() {
      await server?.close();
      await cluster?.stop();
    },
  };
}
