/** The cluster agent as the controller's ClusterPort (src/controller/cluster-port.ts). */
import type { ClusterPort } from '../controller/cluster-port.js';
import type { EtcdClusterAgent } from './cluster-agent.js';

export function clusterPortOf(agent: EtcdClusterAgent): ClusterPort {
  return {
    hostId: agent.hostId,
    hostAddress: agent.address,
    assertAvailable: () => agent.assertAvailable(),
    definePool: (p) => agent.definePool(p),
    deletePool: (id) => agent.deletePool(id),
    allocate: async (pool, handle) => (await agent.allocate(pool, handle)).address,
    release: (pool, address, handle) => agent.release(pool, address, handle),
    allocations: (pool) => agent.poolAddresses(pool),
  };
}
