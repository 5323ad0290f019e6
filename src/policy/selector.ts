/**
 * A parsed Calico selector: its tree, its canonical text, and a matcher over label maps. Pure.
 */
import { type Labels, type SelectorNode, andNodes, canonicalText, evaluateNode } from './selector-ast.js';
import { parseSelectorNode } from './selector-parser.js';

export type { Labels, SelectorNode } from './selector-ast.js';

export class Selector {
  /** Canonical text; equal selectors (however spelled) have equal text. */
  readonly text: string;

  constructor(readonly node: SelectorNode) {
    this.text = canonicalText(node);
  }

  /** Parse Calico selector text; throws SelectorSyntaxError naming `field`. */
  static parse(input: string, field = 'selector'): Selector {
    return new Selector(parseSelectorNode(input, field));
  }

  static readonly ALL = new Selector({ kind: 'all' });

  matches(labels: Labels): boolean {
    return evaluateNode(this.node, labels);
  }

  /** This selector restricted to endpoints that also match `other`. */
  and(other: Selector): Selector {
    return new Selector(andNodes(this.node, other.node));
  }

  toString(): string {
    return this.text;
  }

  toJSON(): string {
    return this.text;
  }
}
