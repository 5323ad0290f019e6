/** What every check gets: the lab, the design's adapter and its running deployment. */
import type { ClusterLab } from '../../cluster-lab.js';
import type { CheckResult } from '../compare-types.js';
import type { DesignAdapter, Deployment } from '../design-adapter.js';

export interface CheckContext {
  lab: ClusterLab;
  adapter: DesignAdapter;
  dep: Deployment;
  hosts: string[];
  prefix: string;
  /** A fresh TCP/UDP port for each server a check starts. */
  port(): number;
  /** The underlay subnet of host A (for the subnet-restriction check). */
  hostSubnet: string;
  /** Scratch directory of this run (captures). */
  dir: string;
  log(msg: string): void;
}

export type Check = (c: CheckContext) => Promise<Omit<CheckResult, 'claimed'>>;
