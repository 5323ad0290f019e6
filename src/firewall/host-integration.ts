/**
 * What a bridge network needs on the host outside the firewall backend's own tables: kernel
 * settings its rules depend on (forwarding, route_localnet), and rules in chains that another
 * manager owns (Docker's DOCKER-USER). The firewall service runs each integration from the
 * network hooks, and re-ensures the ones another manager may reset.
 */
import type { FwNetwork } from './types.js';

/** A live change subscription of an integration. */
export interface IntegrationWatch {
  close(): void;
}

export interface HostIntegration {
  readonly name: string;
  /** A failure of a required integration fails the change; the others are logged and retried. */
  readonly required: boolean;
  networkUp(net: FwNetwork): Promise<void>;
  networkDown(net: FwNetwork): Promise<void>;
  /** Re-ensure for every network (e.g. dockerd started after weftd, or re-created its chains). */
  resync?(nets: readonly FwNetwork[]): Promise<void>;
  /**
   * Call `onChange` whenever `resync` may have something to do; undefined when this host cannot
   * say (then `resync` runs on a timer).
   */
  watchChanges?(onChange: () => void): Promise<IntegrationWatch | undefined>;
}
