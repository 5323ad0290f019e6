/**
 * The model back in Calico's v3 resource shape: what weft stores (etcd /weft/v1/policies/<name>)
 * and what `weft policy inspect` prints. Parsing the output gives the same model back. Pure.
 */
import { ALLOW_PUBLISHED_ANNOTATION, CALICO_API_VERSION } from './policy-file.js';
import type { EntityMatch, Policy, PolicyRule, PortRange, Profile } from './policy-types.js';

type Json = Record<string, unknown>;

function portText(p: PortRange): number | string {
  return p.min === p.max ? p.min : `${p.min}:${p.max}`;
}

function entityToJson(e: EntityMatch): Json | undefined {
  const out: Json = {};
  if (e.nets) out.nets = [...e.nets];
  if (e.notNets) out.notNets = [...e.notNets];
  if (e.selector) out.selector = e.selector.text;
  if (e.notSelector) out.notSelector = e.notSelector.text;
  if (e.ports) out.ports = e.ports.map(portText);
  if (e.notPorts) out.notPorts = e.notPorts.map(portText);
  return Object.keys(out).length === 0 ? undefined : out;
}

/** One rule as Calico writes it. */
export function ruleToJson(r: PolicyRule): Json {
  const out: Json = { action: r.action };
  if (r.ipVersion !== undefined) out.ipVersion = r.ipVersion;
  if (r.protocol !== undefined) out.protocol = r.protocol;
  if (r.notProtocol !== undefined) out.notProtocol = r.notProtocol;
  if (r.icmp) out.icmp = { ...r.icmp };
  if (r.notICMP) out.notICMP = { ...r.notICMP };
  const source = entityToJson(r.source);
  const destination = entityToJson(r.destination);
  if (source) out.source = source;
  if (destination) out.destination = destination;
  if (r.annotations) out.metadata = { annotations: { ...r.annotations } };
  return out;
}

/** A policy as a Calico resource (`NetworkPolicy` when scoped to a network). */
export function policyToResource(p: Policy): Json {
  const metadata: Json = { name: p.name };
  if (p.network !== undefined) metadata.namespace = p.network;
  const spec: Json = {};
  if (p.order !== undefined) spec.order = p.order;
  spec.selector = p.selector.text;
  spec.types = [...p.types];
  if (p.ingress.length > 0) spec.ingress = p.ingress.map(ruleToJson);
  if (p.egress.length > 0) spec.egress = p.egress.map(ruleToJson);
  return { apiVersion: CALICO_API_VERSION, kind: p.network === undefined ? 'GlobalNetworkPolicy' : 'NetworkPolicy', metadata, spec };
}

/** A network's profile as a Calico `Profile` resource. */
export function profileToResource(p: Profile): Json {
  const metadata: Json = { name: p.name };
  if (!p.allowPublished) metadata.annotations = { [ALLOW_PUBLISHED_ANNOTATION]: 'false' };
  return {
    apiVersion: CALICO_API_VERSION,
    kind: 'Profile',
    metadata,
    spec: { ingress: p.ingress.map(ruleToJson), egress: p.egress.map(ruleToJson) },
  };
}
