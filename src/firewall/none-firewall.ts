/**
 * The "none" backend: keeps the model (so `state` and the controller behave the same) but
 * touches no firewall. For hosts where another tool owns packet filtering.
 */
import type { FirewallBackend, FirewallCheck, FirewallState, FwNetwork, FwPortMapping } from './types.js';
import { portKey } from './validate.js';

export class NoneFirewall implements FirewallBackend {
  readonly name = 'none';
  private model: FirewallState = { networks: [], ports: [] };

  async init(state: FirewallState): Promise<void> {
    this.model = structuredClone(state);
  }

  async addNetwork(network: FwNetwork): Promise<void> {
    this.model.networks = [...this.model.networks.filter((n) => n.id !== network.id), structuredClone(network)];
  }

  async removeNetwork(id: string): Promise<void> {
    this.model.networks = this.model.networks.filter((n) => n.id !== id);
    this.model.ports = this.model.ports.filter((p) => p.networkId !== id);
  }

  async addPorts(mappings: FwPortMapping[]): Promise<void> {
    const have = new Set(this.model.ports.map(portKey));
    for (const m of mappings) {
      if (have.has(portKey(m))) continue;
      have.add(portKey(m));
      this.model.ports.push(structuredClone(m));
    }
  }

  async removePorts(mappings: FwPortMapping[]): Promise<void> {
    const gone = new Set(mappings.map(portKey));
    this.model.ports = this.model.ports.filter((p) => !gone.has(portKey(p)));
  }

  async check(): Promise<FirewallCheck> {
    return { ok: true, problems: [] };
  }

  async restore(): Promise<void> {}

  get state(): FirewallState {
    return structuredClone(this.model);
  }
}
