/**
 * Errors of the policy model. Both are WEFT_INVALID_ARGUMENT with `field` naming the offending
 * input as a path into the file (e.g. `spec.ingress[0].destination.ports[1]`), so every edge
 * (CLI, REST) shows the user exactly what to fix.
 */
import { InvalidArgumentError } from '../errors.js';

/** A selector that does not parse; `column` is 1-based within `selector`. */
export class SelectorSyntaxError extends InvalidArgumentError {
  readonly selector: string;
  readonly column: number;
  constructor(field: string, selector: string, column: number, detail: string) {
    super(field, `malformed selector ${JSON.stringify(selector)} at column ${column}: ${detail}`);
    this.selector = selector;
    this.column = column;
  }
}

export interface PolicyIssue {
  /** Path into the input, e.g. `spec.ingress[0].protocol`. */
  path: string;
  message: string;
}

/** One or more problems in a policy or profile; `field` is the first one's path. */
export class PolicyValidationError extends InvalidArgumentError {
  readonly issues: readonly PolicyIssue[];
  constructor(issues: readonly PolicyIssue[]) {
    const first = issues[0] ?? { path: 'policy', message: 'invalid' };
    const more =
      issues.length > 1
        ? ` (and ${issues.length - 1} more: ${issues
            .slice(1)
            .map((i) => `${i.path}: ${i.message}`)
            .join('; ')})`
        : '';
    super(first.path, `${first.message}${more}`);
    this.issues = issues;
  }
}
