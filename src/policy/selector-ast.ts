/**
 * Calico label selectors as a tree: how each node matches a label map, and one canonical text per
 * tree (so two spellings of the same selector share one nftables set). Pure.
 *
 * Matching follows Calico's evaluator: `k != 'v'` and `k not in {…}` also match endpoints that do
 * not carry `k` at all; `k == 'v'`, `k in {…}` and the string operators need the label.
 */

export type Labels = Readonly<Record<string, string>>;

export type SelectorNode =
  | { kind: 'all' }
  | { kind: 'global' }
  | { kind: 'has'; key: string }
  | { kind: 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith'; key: string; value: string }
  | { kind: 'in' | 'notIn'; key: string; values: readonly string[] }
  | { kind: 'not'; operand: SelectorNode }
  | { kind: 'and' | 'or'; operands: readonly SelectorNode[] };

/** Whether `labels` satisfy the selector tree. */
export function evaluateNode(node: SelectorNode, labels: Labels): boolean {
  const get = (key: string): string | undefined => (Object.hasOwn(labels, key) ? labels[key] : undefined);
  switch (node.kind) {
    case 'all':
    case 'global':
      // weft has no namespaces: every endpoint is "global" in Calico's sense.
      return true;
    case 'has':
      return get(node.key) !== undefined;
    case 'eq':
      return get(node.key) === node.value;
    case 'ne':
      return get(node.key) !== node.value;
    case 'contains': {
      const v = get(node.key);
      return v !== undefined && v.includes(node.value);
    }
    case 'startsWith': {
      const v = get(node.key);
      return v !== undefined && v.startsWith(node.value);
    }
    case 'endsWith': {
      const v = get(node.key);
      return v !== undefined && v.endsWith(node.value);
    }
    case 'in': {
      const v = get(node.key);
      return v !== undefined && node.values.includes(v);
    }
    case 'notIn': {
      const v = get(node.key);
      return v === undefined || !node.values.includes(v);
    }
    case 'not':
      return !evaluateNode(node.operand, labels);
    case 'and':
      return node.operands.every((o) => evaluateNode(o, labels));
    case 'or':
      return node.operands.some((o) => evaluateNode(o, labels));
  }
}

/** A string literal: double quotes unless the value holds one (selectors have no escapes). */
export function quoteLiteral(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}

const BINARY_TEXT = { eq: '==', ne: '!=', contains: 'contains', startsWith: 'starts with', endsWith: 'ends with' } as const;

/** Binding strength, for minimal parentheses: or < and < unary/primary. */
function strength(node: SelectorNode): number {
  return node.kind === 'or' ? 1 : node.kind === 'and' ? 2 : 3;
}

/**
 * Canonical text: single spaces around operators, double-quoted literals, `in` sets sorted and
 * without duplicates, nested `&&`/`||` flattened, parentheses only where precedence needs them.
 */
export function canonicalText(node: SelectorNode): string {
  const wrap = (child: SelectorNode, min: number): string => {
    const text = canonicalText(child);
    return strength(child) < min ? `(${text})` : text;
  };
  switch (node.kind) {
    case 'all':
      return 'all()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${node.key})`;
    case 'eq':
    case 'ne':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return `${node.key} ${BINARY_TEXT[node.kind]} ${quoteLiteral(node.value)}`;
    case 'in':
    case 'notIn':
      return `${node.key} ${node.kind === 'in' ? 'in' : 'not in'} {${node.values.map(quoteLiteral).join(', ')}}`;
    case 'not':
      return `!${wrap(node.operand, 3)}`;
    case 'and':
      return node.operands.map((o) => wrap(o, 3)).join(' && ');
    case 'or':
      return node.operands.map((o) => wrap(o, 2)).join(' || ');
  }
}

/** Conjunction of two trees, flattening nested `&&` (used to scope a selector to one network). */
export function andNodes(a: SelectorNode, b: SelectorNode): SelectorNode {
  if (a.kind === 'all') return b;
  if (b.kind === 'all') return a;
  const parts = (n: SelectorNode): readonly SelectorNode[] => (n.kind === 'and' ? n.operands : [n]);
  return { kind: 'and', operands: [...parts(a), ...parts(b)] };
}
