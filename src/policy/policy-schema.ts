/**
 * The shape of Calico's v3 resources as zod schemas: types and field names only. Meaning (valid
 * selectors, CIDRs, port ranges, which fields go together) is checked in policy-normalize.ts so
 * that every problem comes out with its path. Objects are strict: a misspelt field is an error,
 * not a silently ignored rule. Fields Calico has but weft does not implement are accepted here
 * and refused with a clear message by the normaliser.
 */
import { z } from 'zod';

const strings = z.array(z.string()).nullish();
const portList = z.array(z.union([z.number(), z.string()])).nullish();

export const IcmpIn = z.object({ type: z.number().nullish(), code: z.number().nullish() }).strict();

export const EntityIn = z
  .object({
    nets: strings,
    notNets: strings,
    selector: z.string().nullish(),
    notSelector: z.string().nullish(),
    ports: portList,
    notPorts: portList,
    namespaceSelector: z.string().nullish(),
    serviceAccounts: z.unknown(),
    services: z.unknown(),
  })
  .strict();

export const RuleIn = z
  .object({
    action: z.string(),
    protocol: z.union([z.string(), z.number()]).nullish(),
    notProtocol: z.union([z.string(), z.number()]).nullish(),
    icmp: IcmpIn.nullish(),
    notICMP: IcmpIn.nullish(),
    ipVersion: z.number().nullish(),
    source: EntityIn.nullish(),
    destination: EntityIn.nullish(),
    metadata: z
      .object({ annotations: z.record(z.string()).nullish() })
      .strict()
      .nullish(),
    http: z.unknown(),
  })
  .strict();

const rules = z.array(RuleIn).nullish();

export const PolicySpecIn = z
  .object({
    order: z.number().nullish(),
    selector: z.string().nullish(),
    types: z.array(z.string()).nullish(),
    ingress: rules,
    egress: rules,
    tier: z.string().nullish(),
    performanceHints: z.array(z.string()).nullish(),
    serviceAccountSelector: z.unknown(),
    namespaceSelector: z.unknown(),
    doNotTrack: z.unknown(),
    preDNAT: z.unknown(),
    applyOnForward: z.unknown(),
  })
  .strict();

export const ProfileSpecIn = z.object({ ingress: rules, egress: rules, labelsToApply: z.unknown() }).strict();

export const MetadataIn = z
  .object({
    name: z.string(),
    namespace: z.string().nullish(),
    labels: z.record(z.string()).nullish(),
    annotations: z.record(z.string()).nullish(),
  })
  // resourceVersion, uid, creationTimestamp… as calicoctl prints them: harmless, ignored.
  .passthrough();

export const ResourceIn = z
  .object({
    apiVersion: z.string().nullish(),
    kind: z.string(),
    metadata: MetadataIn,
    spec: z.unknown(),
  })
  .strict();

/** The short form: a policy spec with its name (and optional network) at the top level. */
export const FlatPolicyIn = PolicySpecIn.extend({ name: z.string(), namespace: z.string().nullish() }).strict();

export type RuleRaw = z.infer<typeof RuleIn>;
export type EntityRaw = z.infer<typeof EntityIn>;
export type IcmpRaw = z.infer<typeof IcmpIn>;
export type PolicySpecRaw = z.infer<typeof PolicySpecIn>;
export type ProfileSpecRaw = z.infer<typeof ProfileSpecIn>;

/** `spec.ingress[0].action` from zod's path array. */
export function pathText(prefix: string, path: readonly (string | number)[]): string {
  let out = prefix;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(top level)' : out;
}

/** Issues of a failed zod parse as {path, message}, paths prefixed. */
export function zodIssues(err: z.ZodError, prefix: string): { path: string; message: string }[] {
  return err.issues.map((i) => {
    if (i.code === 'unrecognized_keys') {
      return {
        path: pathText(prefix, i.path),
        message: `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`,
      };
    }
    return { path: pathText(prefix, i.path), message: i.message };
  });
}
