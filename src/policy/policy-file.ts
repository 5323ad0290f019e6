/**
 * Policy files as users write them for calicoctl — YAML or JSON, one or several documents, a
 * single resource, a list (`kind: List` / `NetworkPolicyList` … with `items`) or a bare array —
 * and the short form (`name`, `order`, `selector`, … at the top level). Every problem in the file
 * is reported at once, each with its path. Pure.
 */
import { parseAllDocuments } from 'yaml';
import { PolicyValidationError } from './policy-errors.js';
import { Issues, checkPolicyName, normalizePolicySpec, normalizeRule } from './policy-normalize.js';
import { FlatPolicyIn, PolicySpecIn, ProfileSpecIn, ResourceIn, zodIssues } from './policy-schema.js';
import type { Policy, PolicyRule, Profile } from './policy-types.js';

export const CALICO_API_VERSION = 'projectcalico.org/v3';
/** Annotation on a Profile: "false" makes published ports subject to the profile's rules. */
export const ALLOW_PUBLISHED_ANNOTATION = 'weft.allow-published';

export interface PolicyDocument {
  policies: Policy[];
  profiles: Profile[];
}

const LIST_KINDS = new Set(['List', 'NetworkPolicyList', 'GlobalNetworkPolicyList', 'ProfileList']);
const NETWORK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(prefix: string, field: string): string {
  return prefix === '' ? field : `${prefix}.${field}`;
}

function addProfile(
  meta: { name: string; annotations?: Record<string, string> | null },
  spec: unknown,
  path: string,
  issues: Issues,
  out: PolicyDocument,
): void {
  const specPath = join(path, 'spec');
  const parsed = ProfileSpecIn.safeParse(spec ?? {});
  if (!parsed.success) return void issues.list.push(...zodIssues(parsed.error, specPath));
  if (parsed.data.labelsToApply !== undefined && parsed.data.labelsToApply !== null) {
    issues.add(join(specPath, 'labelsToApply'), 'not supported: label endpoints directly (weft run --label, CNI args, Docker labels)');
  }
  if (!NETWORK_NAME_RE.test(meta.name))
    issues.add(join(path, 'metadata.name'), `a profile is named after its network; ${JSON.stringify(meta.name)} is not a network name`);
  const flag = meta.annotations?.[ALLOW_PUBLISHED_ANNOTATION];
  if (flag !== undefined && flag !== 'true' && flag !== 'false') {
    issues.add(join(path, `metadata.annotations.${ALLOW_PUBLISHED_ANNOTATION}`), 'must be "true" or "false"');
  }
  const rules = (list: typeof parsed.data.ingress, field: string): PolicyRule[] =>
    (list ?? [])
      .map((r, i) => normalizeRule(r, join(specPath, `${field}[${i}]`), issues, false))
      .filter((r): r is PolicyRule => r !== undefined);
  out.profiles.push({
    name: meta.name,
    ingress: rules(parsed.data.ingress, 'ingress'),
    egress: rules(parsed.data.egress, 'egress'),
    allowPublished: flag !== 'false',
  });
}

function addResource(raw: Record<string, unknown>, path: string, issues: Issues, out: PolicyDocument): void {
  if (typeof raw.kind === 'string' && LIST_KINDS.has(raw.kind)) {
    if (!Array.isArray(raw.items)) return void issues.add(join(path, 'items'), `a ${raw.kind} needs an items array`);
    raw.items.forEach((item, i) => addValue(item, join(path, `items[${i}]`), issues, out));
    return;
  }
  if (raw.apiVersion === 'networking.k8s.io/v1') {
    return void issues.add(
      join(path, 'apiVersion'),
      `Kubernetes NetworkPolicy is not supported; write Calico's ${CALICO_API_VERSION} shape (selector, types, ingress/egress rules)`,
    );
  }
  const r = ResourceIn.safeParse(raw);
  if (!r.success) return void issues.list.push(...zodIssues(r.error, path));
  const { apiVersion, kind, metadata, spec } = r.data;
  if (apiVersion !== null && apiVersion !== undefined && apiVersion !== CALICO_API_VERSION) {
    issues.add(join(path, 'apiVersion'), `must be ${CALICO_API_VERSION}, not "${apiVersion}"`);
  }
  if (kind === 'Profile') return addProfile(metadata, spec, path, issues, out);
  if (kind !== 'NetworkPolicy' && kind !== 'GlobalNetworkPolicy') {
    return void issues.add(join(path, 'kind'), `unsupported kind "${kind}" (expected NetworkPolicy, GlobalNetworkPolicy or Profile)`);
  }
  checkPolicyName(metadata.name, join(path, 'metadata.name'), issues);
  const ns = metadata.namespace ?? undefined;
  if (ns !== undefined && kind === 'GlobalNetworkPolicy')
    issues.add(join(path, 'metadata.namespace'), 'a GlobalNetworkPolicy has no namespace');
  if (ns !== undefined && !NETWORK_NAME_RE.test(ns))
    issues.add(join(path, 'metadata.namespace'), `the namespace names a weft network; ${JSON.stringify(ns)} is not a network name`);
  const parsed = PolicySpecIn.safeParse(spec ?? {});
  if (!parsed.success) return void issues.list.push(...zodIssues(parsed.error, join(path, 'spec')));
  const k: Policy['kind'] = kind;
  const id =
    ns === undefined || k === 'GlobalNetworkPolicy' ? { kind: k, name: metadata.name } : { kind: k, name: metadata.name, network: ns };
  out.policies.push(normalizePolicySpec(id, parsed.data, join(path, 'spec'), issues));
}

function addFlat(raw: Record<string, unknown>, path: string, issues: Issues, out: PolicyDocument): void {
  const r = FlatPolicyIn.safeParse(raw);
  if (!r.success) return void issues.list.push(...zodIssues(r.error, path));
  const { name, namespace, ...spec } = r.data;
  checkPolicyName(name, join(path, 'name'), issues);
  if (namespace !== null && namespace !== undefined && !NETWORK_NAME_RE.test(namespace)) {
    issues.add(join(path, 'namespace'), `the namespace names a weft network; ${JSON.stringify(namespace)} is not a network name`);
  }
  const id =
    namespace === null || namespace === undefined
      ? { kind: 'GlobalNetworkPolicy' as const, name }
      : { kind: 'NetworkPolicy' as const, name, network: namespace };
  out.policies.push(normalizePolicySpec(id, spec, path, issues));
}

function addValue(value: unknown, path: string, issues: Issues, out: PolicyDocument): void {
  if (Array.isArray(value)) return value.forEach((v, i) => addValue(v, `${path}[${i}]`, issues, out));
  if (!isObject(value)) return void issues.add(path === '' ? '(top level)' : path, 'expected a policy or profile object');
  if ('kind' in value || 'apiVersion' in value || 'spec' in value || 'metadata' in value) addResource(value, path, issues, out);
  else addFlat(value, path, issues, out);
}

function checkDuplicates(doc: PolicyDocument, issues: Issues): void {
  const seen = new Set<string>();
  for (const p of doc.policies) {
    if (seen.has(p.name)) issues.add('metadata.name', `policy "${p.name}" is defined twice`);
    seen.add(p.name);
  }
  const profiles = new Set<string>();
  for (const p of doc.profiles) {
    if (profiles.has(p.name)) issues.add('metadata.name', `profile "${p.name}" is defined twice`);
    profiles.add(p.name);
  }
}

/** Policies and profiles from an already-parsed value (a REST body, a store record). */
export function parsePolicyValue(value: unknown): PolicyDocument {
  const issues = new Issues();
  const out: PolicyDocument = { policies: [], profiles: [] };
  addValue(value, '', issues, out);
  checkDuplicates(out, issues);
  if (issues.list.length > 0) throw new PolicyValidationError(issues.list);
  return out;
}

/** Policies and profiles from YAML or JSON text (JSON is YAML); throws PolicyValidationError. */
export function parsePolicyText(text: string): PolicyDocument {
  const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const issues = new Issues();
  const values: unknown[] = [];
  list.forEach((doc, i) => {
    const where = list.length > 1 ? `documents[${i}]` : '(document)';
    for (const e of doc.errors) {
      const pos = e.linePos?.[0];
      issues.add(
        pos ? `${where} line ${pos.line} column ${pos.col}` : where,
        `not valid YAML/JSON: ${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
      );
    }
    if (doc.errors.length === 0) values.push(doc.toJS({ maxAliasCount: 100 }));
  });
  if (issues.list.length > 0) throw new PolicyValidationError(issues.list);
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) throw new PolicyValidationError([{ path: '(document)', message: 'the file holds no policy' }]);
  return parsePolicyValue(present.length === 1 ? present[0] : present);
}
