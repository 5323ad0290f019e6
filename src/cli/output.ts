/**
 * The shared output helper: every printing command describes its objects once (a View) and
 * hands them here with the user's `--format`; json, table, `table TEMPLATE` and templates then
 * behave the same on every command. New commands should use printList / printOne.
 */
import { parseFormat, type FormatSpec } from './format/format-spec.js';
import { defaultLabel, execTemplate, templateHeader } from './format/template.js';

export interface Column<T> {
  header: string;
  cell: (x: T) => string;
}

export interface View<T> {
  /** Columns of the default table. */
  columns: Column<T>[];
  /** The object templates and `--format json` see (default: the item itself). */
  row?: (x: T) => unknown;
  /** Rows are complete objects: a template naming a field they lack is an error (Go's struct rule). */
  strict?: boolean;
  /** Column names for `table TEMPLATE` headers, by field name (else Docker's CamelCase → CAMEL CASE). */
  labels?: Record<string, string>;
  /** `--format json` of a list: one indented array (inspect) or one compact object per line (ls, as Docker ≥ 23). */
  jsonList?: 'array' | 'lines';
}

/** Align tab-separated cells into columns (3 spaces between, like Docker's tabwriter). */
export function alignTabs(lines: string[]): string {
  const rows = lines.map((l) => l.split('\t'));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => i < r.length - 1 && (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** An aligned table with a header line. */
export function table(headers: string[], rows: string[][]): string {
  return alignTabs([headers, ...rows].map((r) => r.map((c) => c.replace(/[\t\n]/g, ' ')).join('\t')));
}

const json = (v: unknown, indent: boolean): string => JSON.stringify(v, null, indent ? 2 : undefined);

function renderTemplated<T>(items: T[], spec: FormatSpec, view: View<T>): string | undefined {
  if ((spec.kind !== 'template' && spec.kind !== 'table') || !spec.template) return undefined;
  const t = spec.template;
  const body = items.map((x) => execTemplate(t, (view.row ?? ((y: T) => y))(x), { strict: view.strict }));
  if (spec.kind === 'template') return body.map((l) => l + '\n').join('');
  const header = templateHeader(t, (path) => view.labels?.[path.join('.')] ?? view.labels?.[path[path.length - 1]!] ?? defaultLabel(path));
  return alignTabs([header, ...body]);
}

/** Render a list: default/table → the view's table, json → array or lines, templates per item. */
export function renderList<T>(items: T[], format: string | FormatSpec | undefined, view: View<T>, whenDefault?: () => string): string {
  const spec = typeof format === 'object' ? format : parseFormat(format);
  const rows = (): unknown[] => items.map((x) => (view.row ?? ((y: T) => y))(x));
  if (spec.kind === 'json')
    return view.jsonList === 'lines'
      ? rows()
          .map((r) => json(r, false) + '\n')
          .join('')
      : json(rows(), true) + '\n';
  if (spec.kind === 'default' && whenDefault) return whenDefault();
  return (
    renderTemplated(items, spec, view) ??
    table(
      view.columns.map((c) => c.header),
      items.map((x) => view.columns.map((c) => c.cell(x))),
    )
  );
}

/** Render one object: default → `plain` (e.g. its id), json → the object, else as a one-row list. */
export function renderOne<T>(item: T, format: string | FormatSpec | undefined, view: View<T>, plain: (x: T) => string): string {
  const spec = typeof format === 'object' ? format : parseFormat(format);
  if (spec.kind === 'default') return plain(item) + '\n';
  if (spec.kind === 'json') return json((view.row ?? ((y: T) => y))(item), true) + '\n';
  return renderList([item], spec, view);
}

export const write = (s: string): void => void process.stdout.write(s);

export function printList<T>(items: T[], format: string | FormatSpec | undefined, view: View<T>, whenDefault?: () => string): void {
  write(renderList(items, format, view, whenDefault));
}

export function printOne<T>(item: T, format: string | FormatSpec | undefined, view: View<T>, plain: (x: T) => string): void {
  write(renderOne(item, format, view, plain));
}

/** Commander option text for --format, the same on every command. */
export const FORMAT_OPTION = ['--format <format>', `output format: json | table | 'table {{.Field}}…' | a Go template`] as const;

/** Sort by name the way `docker … ls` does. */
export const byName =
  <T>(name: (x: T) => string) =>
  (a: T, b: T): number =>
    name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0;
