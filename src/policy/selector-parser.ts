/**
 * Calico's label selector language, parsed by hand (recursive descent) into a SelectorNode tree:
 *
 *   expr    := and ('||' and)*
 *   and     := unary ('&&' unary)*
 *   unary   := '!' unary | primary
 *   primary := '(' expr ')' | 'all()' | 'global()' | 'has(' key ')'
 *            | key ('==' | '!=' | 'contains' | 'starts with' | 'ends with') literal
 *            | key ('in' | 'not in') '{' [literal (',' literal)*] '}'
 *
 * Literals are quoted with ' or " and have no escapes (as in Calico). Keywords are recognised by
 * position, so a label may be called `has` or `in`. Errors say what was expected and at which
 * column. Pure.
 */
import { type SelectorNode } from './selector-ast.js';
import { SelectorSyntaxError } from './policy-errors.js';

/** Label keys as Calico accepts them (Kubernetes-style `prefix/name` included). */
export const LABEL_KEY_RE = /^[A-Za-z0-9_./-]{1,512}$/;
const WORD_CHAR = /[A-Za-z0-9_./-]/;
/** Selectors longer than this or nested deeper are refused rather than risking the stack. */
export const MAX_SELECTOR_LENGTH = 16_384;
const MAX_DEPTH = 64;

type TokenKind = 'word' | 'string' | '(' | ')' | '{' | '}' | ',' | '==' | '!=' | '!' | '&&' | '||' | 'end';

interface Token {
  kind: TokenKind;
  text: string;
  /** 1-based column of the token's first character. */
  col: number;
}

function tokenize(input: string, field: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (msg: string, at: number): never => {
    throw new SelectorSyntaxError(field, input, at + 1, msg);
  };
  while (i < input.length) {
    const c = input[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const two = input.slice(i, i + 2);
    if (two === '==' || two === '!=' || two === '&&' || two === '||') {
      out.push({ kind: two, text: two, col: i + 1 });
      i += 2;
    } else if (c === '(' || c === ')' || c === '{' || c === '}' || c === ',' || c === '!') {
      out.push({ kind: c, text: c, col: i + 1 });
      i++;
    } else if (c === '"' || c === "'") {
      const end = input.indexOf(c, i + 1);
      if (end === -1) fail(`unterminated string (no closing ${c})`, i);
      out.push({ kind: 'string', text: input.slice(i + 1, end), col: i + 1 });
      i = end + 1;
    } else if (WORD_CHAR.test(c)) {
      const start = i;
      while (i < input.length && WORD_CHAR.test(input[i]!)) i++;
      out.push({ kind: 'word', text: input.slice(start, i), col: start + 1 });
    } else if (c === '=' || c === '&' || c === '|') {
      fail(`"${c}" must be doubled ("${c}${c}")`, i);
    } else {
      fail(`unexpected character ${JSON.stringify(c)}`, i);
    }
  }
  out.push({ kind: 'end', text: '', col: input.length + 1 });
  return out;
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly input: string,
    private readonly field: string,
  ) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'end') this.pos++;
    return t;
  }

  private fail(t: Token, expected: string): never {
    const got = t.kind === 'end' ? 'end of selector' : t.kind === 'string' ? `string ${JSON.stringify(t.text)}` : `"${t.text}"`;
    throw new SelectorSyntaxError(this.field, this.input, t.col, `expected ${expected}, got ${got}`);
  }

  private expect(kind: TokenKind, what: string): Token {
    const t = this.next();
    if (t.kind !== kind) this.fail(t, what);
    return t;
  }

  private isWord(t: Token, text: string): boolean {
    return t.kind === 'word' && t.text === text;
  }

  parse(): SelectorNode {
    const node = this.parseOr();
    const t = this.peek();
    if (t.kind !== 'end') this.fail(t, '"&&", "||" or the end of the selector');
    return node;
  }

  private parseOr(): SelectorNode {
    const operands = [this.parseAnd()];
    while (this.peek().kind === '||') {
      this.next();
      operands.push(this.parseAnd());
    }
    return flatten('or', operands);
  }

  private parseAnd(): SelectorNode {
    const operands = [this.parseUnary()];
    while (this.peek().kind === '&&') {
      this.next();
      operands.push(this.parseUnary());
    }
    return flatten('and', operands);
  }

  private parseUnary(): SelectorNode {
    if (++this.depth > MAX_DEPTH) this.fail(this.peek(), `at most ${MAX_DEPTH} levels of nesting`);
    try {
      if (this.peek().kind === '!') {
        this.next();
        return { kind: 'not', operand: this.parseUnary() };
      }
      return this.parsePrimary();
    } finally {
      this.depth--;
    }
  }

  private parsePrimary(): SelectorNode {
    const t = this.peek();
    if (t.kind === '(') {
      this.next();
      const inner = this.parseOr();
      this.expect(')', '")"');
      return inner;
    }
    if (t.kind !== 'word') this.fail(t, 'a label name, "has(", "all()", "!" or "("');
    if (this.peek(1).kind === '(' && (t.text === 'all' || t.text === 'global')) {
      this.pos += 2;
      this.expect(')', `")" after "${t.text}("`);
      return t.text === 'all' ? { kind: 'all' } : { kind: 'global' };
    }
    if (this.peek(1).kind === '(' && t.text === 'has') {
      this.pos += 2;
      const key = this.expect('word', 'a label name inside has( )');
      this.checkKey(key);
      this.expect(')', '")" after the label name');
      return { kind: 'has', key: key.text };
    }
    this.next();
    this.checkKey(t);
    return this.parseComparison(t.text);
  }

  private parseComparison(key: string): SelectorNode {
    const op = this.next();
    if (op.kind === '==' || op.kind === '!=') return { kind: op.kind === '==' ? 'eq' : 'ne', key, value: this.literal() };
    if (this.isWord(op, 'in')) return { kind: 'in', key, values: this.literalSet() };
    if (this.isWord(op, 'not')) {
      if (!this.isWord(this.peek(), 'in')) this.fail(this.peek(), '"in" after "not"');
      this.next();
      return { kind: 'notIn', key, values: this.literalSet() };
    }
    if (this.isWord(op, 'contains')) return { kind: 'contains', key, value: this.literal() };
    if (this.isWord(op, 'starts') || this.isWord(op, 'ends')) {
      if (!this.isWord(this.peek(), 'with')) this.fail(this.peek(), `"with" after "${op.text}"`);
      this.next();
      return { kind: op.text === 'starts' ? 'startsWith' : 'endsWith', key, value: this.literal() };
    }
    return this.fail(op, `an operator after label "${key}" (==, !=, in, not in, contains, starts with, ends with)`);
  }

  private literal(): string {
    return this.expect('string', 'a quoted string (\'…\' or "…")').text;
  }

  private literalSet(): string[] {
    this.expect('{', '"{"');
    const values = new Set<string>();
    if (this.peek().kind !== '}') {
      values.add(this.literal());
      while (this.peek().kind === ',') {
        this.next();
        values.add(this.literal());
      }
    }
    this.expect('}', '"," or "}"');
    return [...values].sort();
  }

  private checkKey(t: Token): void {
    if (!LABEL_KEY_RE.test(t.text)) this.fail(t, 'a label name of at most 512 characters');
  }
}

function flatten(kind: 'and' | 'or', operands: SelectorNode[]): SelectorNode {
  if (operands.length === 1) return operands[0]!;
  return { kind, operands: operands.flatMap((o) => (o.kind === kind ? o.operands : [o])) };
}

/** Parse a selector; throws SelectorSyntaxError (naming `field` and the column) when malformed. */
export function parseSelectorNode(input: string, field = 'selector'): SelectorNode {
  if (typeof input !== 'string') throw new SelectorSyntaxError(field, String(input), 1, 'a selector must be a string');
  if (input.length > MAX_SELECTOR_LENGTH) {
    throw new SelectorSyntaxError(field, input.slice(0, 40) + '…', 1, `selector is longer than ${MAX_SELECTOR_LENGTH} characters`);
  }
  if (input.trim() === '') throw new SelectorSyntaxError(field, input, 1, 'empty selector (use all() to select every endpoint)');
  return new Parser(tokenize(input, field), input, field).parse();
}
