/**
 * A Go text/template subset for `--format`, run on JSON values: what Docker users write.
 *   {{.Name}}  {{.IPAM.Config}}  {{.}}  {{$}}  {{json .}}  {{.Name | upper}}  {{index .Labels "k"}}
 *   {{range .X}}…{{else}}…{{end}}  {{range $k, $v := .Labels}}…{{end}}  {{if .X}}…{{else if .Y}}…{{end}}
 *   {{with .X}}…{{end}}  {{- trim -}}  functions: json join split upper lower title len index
 *   eq ne lt le gt ge not and or print printf println truncate.
 * Values print as Go's %v does: [a b] for lists, map[k:v] for maps, {v1 v2} for Go-struct-like
 * objects (PascalCase keys). A key missing from a map prints <no value> (Go's map rule); with
 * `strict`, a key missing from the top-level object is an error (Go's struct rule). Pure.
 */
import { InvalidArgumentError } from '../../errors.js';

type Arg =
  | { t: 'field'; base: 'dot' | 'var'; name?: string; path: string[] }
  | { t: 'lit'; v: unknown }
  | { t: 'fn'; name: string }
  | { t: 'sub'; p: Pipeline; path: string[] };
interface Pipeline {
  decl: string[];
  cmds: Arg[][];
}
type Node = { t: 'text'; s: string } | { t: 'act'; p: Pipeline } | { t: 'if' | 'with' | 'range'; p: Pipeline; body: Node[]; alt: Node[] };

export interface Template {
  readonly source: string;
  readonly nodes: Node[];
}

const fail = (msg: string): never => {
  throw new InvalidArgumentError('format', `template: ${msg}`);
};

// ---- lexing an action ------------------------------------------------------------------------

type Tok = { k: 'field' | 'var' | 'ident' | 'str' | 'num' | 'pipe' | 'lp' | 'rp' | 'decl' | 'comma' | 'chain'; v: string };

const PUNCT: Record<string, Tok['k']> = { '|': 'pipe', '(': 'lp', ')': 'rp', ',': 'comma' };

function lexAction(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const punct = PUNCT[c];
    if (/\s/.test(c)) i++;
    else if (punct) {
      out.push({ k: punct, v: c });
      i++;
      // `(index .X 0).Field`: fields read from a parenthesized value.
      const chain = punct === 'rp' ? /^\.[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*/.exec(src.slice(i)) : null;
      if (chain) {
        out.push({ k: 'chain', v: chain[0] });
        i += chain[0].length;
      }
    } else if (src.startsWith(':=', i) || (c === '=' && src[i + 1] !== '=')) {
      out.push({ k: 'decl', v: ':=' });
      i += c === ':' ? 2 : 1;
    } else if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) fail(`unterminated string in "{{${src}}}"`);
      out.push({ k: 'str', v: JSON.parse(src.slice(i, j + 1)) as string });
      i = j + 1;
    } else if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) fail(`unterminated raw string in "{{${src}}}"`);
      out.push({ k: 'str', v: src.slice(i + 1, j) });
      i = j + 1;
    } else {
      const m =
        /^(?:\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*|\.(?:[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)?|-?\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*)/.exec(
          src.slice(i),
        );
      if (!m) return fail(`unexpected "${c}" in "{{${src}}}"`);
      const w = m[0];
      out.push({ k: w.startsWith('$') ? 'var' : w.startsWith('.') ? 'field' : /^-?\d/.test(w) ? 'num' : 'ident', v: w });
      i += w.length;
    }
  }
  return out;
}

function parsePipeline(toks: Tok[], pos: { i: number }, allowDecl: boolean): Pipeline {
  const decl: string[] = [];
  if (allowDecl) {
    const k = toks.findIndex((t) => t.k === 'decl');
    if (k > 0 && toks.slice(0, k).every((t) => t.k === 'var' || t.k === 'comma')) {
      for (const t of toks.slice(0, k)) if (t.k === 'var') decl.push(t.v);
      pos.i = k + 1;
    }
  }
  const cmds: Arg[][] = [[]];
  while (pos.i < toks.length) {
    const t = toks[pos.i++]!;
    const cur = cmds[cmds.length - 1]!;
    if (t.k === 'rp') {
      pos.i--;
      break;
    }
    if (t.k === 'pipe') {
      if (cur.length === 0) fail('missing command before "|"');
      cmds.push([]);
    } else if (t.k === 'lp') {
      const p = parsePipeline(toks, pos, false);
      if (toks[pos.i++]?.k !== 'rp') fail('unclosed "("');
      const chain = toks[pos.i]?.k === 'chain' ? toks[pos.i++]!.v.slice(1).split('.') : [];
      cur.push({ t: 'sub', p, path: chain });
    } else if (t.k === 'str') cur.push({ t: 'lit', v: t.v });
    else if (t.k === 'num') cur.push({ t: 'lit', v: Number(t.v) });
    else if (t.k === 'field') cur.push({ t: 'field', base: 'dot', path: t.v === '.' ? [] : t.v.slice(1).split('.') });
    else if (t.k === 'var') {
      const [name, ...path] = t.v.split('.');
      cur.push({ t: 'field', base: 'var', name: name!, path });
    } else if (t.k === 'ident') {
      if (t.v === 'true' || t.v === 'false') cur.push({ t: 'lit', v: t.v === 'true' });
      else if (t.v === 'nil') cur.push({ t: 'lit', v: null });
      else if (!(t.v in FUNCS)) fail(`function "${t.v}" not defined`);
      else cur.push({ t: 'fn', name: t.v });
    } else fail(`unexpected "${t.v}"`);
  }
  if (cmds.some((c) => c.length === 0)) fail('empty command');
  return { decl, cmds };
}

// ---- parsing the template --------------------------------------------------------------------

/** Parse a template; syntax errors are InvalidArgumentError('format'). */
export function parseTemplate(source: string): Template {
  const parts: ({ t: 'text'; s: string } | { t: 'act'; s: string })[] = [];
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    if (open < 0) {
      parts.push({ t: 'text', s: source.slice(i) });
      break;
    }
    const close = source.indexOf('}}', open + 2);
    if (close < 0) fail(`unclosed action "${source.slice(open, open + 20)}"`);
    let text = source.slice(i, open);
    let inner = source.slice(open + 2, close);
    if (/^-\s/.test(inner)) {
      text = text.trimEnd();
      inner = inner.slice(2);
    }
    parts.push({ t: 'text', s: text });
    let next = close + 2;
    if (/\s-$/.test(inner)) {
      inner = inner.slice(0, -2);
      while (next < source.length && /\s/.test(source[next]!)) next++;
    }
    parts.push({ t: 'act', s: inner.trim() });
    i = next;
  }
  const pos = { i: 0 };
  const nodes = parseList(parts, pos, []);
  if (pos.i < parts.length) fail(`unexpected {{${(parts[pos.i] as { s: string }).s}}}`);
  return { source, nodes };
}

function parseList(parts: { t: 'text' | 'act'; s: string }[], pos: { i: number }, stop: string[]): Node[] {
  const out: Node[] = [];
  while (pos.i < parts.length) {
    const p = parts[pos.i]!;
    if (p.t === 'text') {
      if (p.s) out.push({ t: 'text', s: p.s });
      pos.i++;
      continue;
    }
    const word = /^[a-z]+/.exec(p.s)?.[0] ?? '';
    if (stop.includes(word)) return out;
    pos.i++;
    if (p.s.startsWith('/*')) continue; // a comment
    if (word === 'end' || word === 'else') fail(`unexpected {{${p.s}}}`);
    if (word === 'if' || word === 'with' || word === 'range') out.push(parseBlock(word, p.s.slice(word.length), parts, pos));
    else out.push({ t: 'act', p: parsePipeline(lexAction(p.s), { i: 0 }, true) });
  }
  if (stop.length) fail(`missing {{end}}`);
  return out;
}

function parseBlock(kind: 'if' | 'with' | 'range', rest: string, parts: { t: 'text' | 'act'; s: string }[], pos: { i: number }): Node {
  const toks = lexAction(rest);
  if (toks.length === 0) fail(`missing value for ${kind}`);
  const p = parsePipeline(toks, { i: 0 }, kind === 'range');
  const body = parseList(parts, pos, ['end', 'else']);
  let alt: Node[] = [];
  const tag = (parts[pos.i]?.s ?? '').trim();
  pos.i++;
  if (tag.startsWith('else')) {
    const elseRest = tag.slice(4).trim();
    if (elseRest.startsWith('if ') && kind === 'if') {
      alt = [parseBlock('if', elseRest.slice(2), parts, pos)];
      return { t: kind, p, body, alt };
    }
    if (elseRest) fail(`unexpected {{${tag}}}`);
    alt = parseList(parts, pos, ['end']);
    pos.i++;
  }
  return { t: kind, p, body, alt };
}

// ---- values ----------------------------------------------------------------------------------

const NO_VALUE = Symbol('no value');
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Go's %v for a JSON value. */
export function goString(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (isObj(v)) {
    const ks = Object.keys(v);
    if (ks.length > 0 && ks.every((k) => /^[A-Z][A-Za-z0-9]*$/.test(k))) return `{${ks.map((k) => goString(v[k])).join(' ')}}`;
    return `map[${ks
      .sort()
      .map((k) => `${k}:${goString(v[k])}`)
      .join(' ')}]`;
  }
  return typeof v === 'symbol' ? '<no value>' : JSON.stringify(v);
}

function truthy(v: unknown): boolean {
  if (v === NO_VALUE || v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObj(v)) return Object.keys(v).length > 0;
  return true;
}

const cmp = (a: unknown, b: unknown): number => {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return fail(`incompatible types for comparison: ${goString(a)} and ${goString(b)}`);
};
const plain = (v: unknown): unknown => (v === NO_VALUE ? null : v);

const FUNCS: Record<string, (...a: unknown[]) => unknown> = {
  json: (v) => JSON.stringify(plain(v) ?? null),
  join: (list, sep) => (Array.isArray(list) ? list.map(goString).join(String(sep)) : fail('join: first argument must be a list')),
  split: (s, sep) => String(s).split(String(sep)),
  upper: (s) => goString(s).toUpperCase(),
  lower: (s) => goString(s).toLowerCase(),
  title: (s) => goString(s).replace(/\b\w/g, (c) => c.toUpperCase()),
  len: (v) => (Array.isArray(v) || typeof v === 'string' ? v.length : isObj(v) ? Object.keys(v).length : fail(`len of ${goString(v)}`)),
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) cur = Array.isArray(cur) ? cur[Number(k)] : isObj(cur) ? cur[String(k)] : undefined;
    return cur === undefined ? NO_VALUE : cur;
  },
  eq: (a, ...b) => b.some((x) => plain(x) === plain(a)),
  ne: (a, b) => plain(a) !== plain(b),
  lt: (a, b) => cmp(a, b) < 0,
  le: (a, b) => cmp(a, b) <= 0,
  gt: (a, b) => cmp(a, b) > 0,
  ge: (a, b) => cmp(a, b) >= 0,
  not: (a) => !truthy(a),
  and: (...a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
  print: (...a) => a.map(goString).join(''),
  println: (...a) => a.map(goString).join(' ') + '\n',
  printf: (f, ...a) => {
    let n = 0;
    return String(f).replace(/%([-\d.]*)([svdq%])/g, (_m, w: string, c: string) => {
      if (c === '%') return '%';
      const v = a[n++];
      const s = c === 'q' ? JSON.stringify(goString(v)) : c === 'd' ? String(Math.trunc(Number(v))) : goString(v);
      const width = parseInt(w, 10);
      return Number.isNaN(width) ? s : width < 0 ? s.padEnd(-width) : s.padStart(width);
    });
  },
  truncate: (s, n) => goString(s).slice(0, Number(n)),
};

// ---- execution -------------------------------------------------------------------------------

interface Scope {
  dot: unknown;
  vars: Map<string, unknown>;
  strictRoot?: unknown;
}

function lookup(base: unknown, path: string[], sc: Scope, what: string): unknown {
  let cur = base;
  for (const k of path) {
    if (cur === NO_VALUE || cur === undefined || cur === null) return NO_VALUE;
    if (!isObj(cur)) return fail(`can't evaluate field ${k} in ${what} (not an object: ${goString(cur)})`);
    if (k in cur) cur = cur[k];
    else {
      const ci = Object.keys(cur).find((x) => x.toLowerCase() === k.toLowerCase());
      if (ci !== undefined) cur = cur[ci];
      else if (cur === sc.strictRoot) fail(`can't evaluate field ${k}: known fields are ${Object.keys(cur).join(', ')}`);
      else return NO_VALUE;
    }
  }
  return cur;
}

function evalArg(a: Arg, sc: Scope): unknown {
  switch (a.t) {
    case 'lit':
      return a.v;
    case 'sub':
      return lookup(evalPipeline(a.p, sc), a.path, sc, '(…)');
    case 'fn':
      return FUNCS[a.name]!();
    case 'field': {
      if (a.base === 'dot') return lookup(sc.dot, a.path, sc, '.');
      if (!sc.vars.has(a.name!)) return fail(`undefined variable "${a.name}"`);
      return lookup(sc.vars.get(a.name!), a.path, sc, a.name!);
    }
  }
}

function evalPipeline(p: Pipeline, sc: Scope): unknown {
  let piped: unknown = NO_VALUE;
  p.cmds.forEach((cmd, i) => {
    const head = cmd[0]!;
    const rest = cmd.slice(1);
    if (head.t === 'fn') {
      const args = rest.map((x) => evalArg(x, sc));
      if (i > 0) args.push(piped);
      piped = FUNCS[head.name]!(...args);
    } else {
      if (rest.length > 0 || i > 0) fail(`can't give arguments to a non-function value`);
      piped = evalArg(head, sc);
    }
  });
  if (p.decl.length === 1) sc.vars.set(p.decl[0]!, piped);
  return piped;
}

function exec(nodes: Node[], sc: Scope, out: string[]): void {
  for (const n of nodes) {
    if (n.t === 'text') out.push(n.s);
    else if (n.t === 'act') {
      const v = evalPipeline(n.p, sc);
      if (n.p.decl.length === 0) out.push(goString(v));
    } else if (n.t === 'if') exec(truthy(evalPipeline(n.p, sc)) ? n.body : n.alt, sc, out);
    else if (n.t === 'with') {
      const v = evalPipeline(n.p, sc);
      exec(truthy(v) ? n.body : n.alt, truthy(v) ? { ...sc, dot: v } : sc, out);
    } else {
      const v = evalPipeline({ decl: [], cmds: n.p.cmds }, sc);
      const entries: [unknown, unknown][] = Array.isArray(v)
        ? v.map((x, i) => [i, x])
        : isObj(v)
          ? Object.keys(v)
              .sort()
              .map((k) => [k, v[k]])
          : truthy(v)
            ? fail(`range can't iterate over ${goString(v)}`)
            : [];
      if (entries.length === 0) exec(n.alt, sc, out);
      for (const [k, x] of entries) {
        const vars = new Map(sc.vars);
        if (n.p.decl.length === 1) vars.set(n.p.decl[0]!, x);
        if (n.p.decl.length === 2) {
          vars.set(n.p.decl[0]!, k);
          vars.set(n.p.decl[1]!, x);
        }
        exec(n.body, { ...sc, dot: x, vars }, out);
      }
    }
  }
}

/** Run a parsed template on one value. `strict`: unknown top-level fields are errors. */
export function execTemplate(t: Template, data: unknown, opts: { strict?: boolean } = {}): string {
  const out: string[] = [];
  const sc: Scope = { dot: data, vars: new Map([['$', data]]) };
  if (opts.strict && isObj(data)) sc.strictRoot = data;
  exec(t.nodes, sc, out);
  return out.join('');
}

/** Parse and run in one call. */
export function renderTemplate(source: string, data: unknown, opts: { strict?: boolean } = {}): string {
  return execTemplate(parseTemplate(source), data, opts);
}

function firstField(p: Pipeline): string[] | undefined {
  for (const cmd of p.cmds)
    for (const a of cmd) {
      if (a.t === 'field') return a.path;
      if (a.t === 'sub') {
        const f = firstField(a.p);
        if (f) return f;
      }
    }
  return undefined;
}

/**
 * The header line of a `table` template, as Docker makes it: each action becomes the column
 * name of the first field it reads (`label(path)`); text (tabs included) stays.
 */
export function templateHeader(t: Template, label: (path: string[]) => string): string {
  const walk = (nodes: Node[]): string =>
    nodes
      .map((n) => {
        if (n.t === 'text') return n.s;
        if (n.t === 'act' && n.p.decl.length > 0) return '';
        const f = firstField(n.p);
        return f && f.length > 0 ? label(f) : '';
      })
      .join('');
  return walk(t.nodes);
}

/** Docker's default column name for a field: `CreatedAt` → `CREATED AT`. */
export function defaultLabel(path: string[]): string {
  const last = path[path.length - 1] ?? '';
  return last
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toUpperCase();
}
