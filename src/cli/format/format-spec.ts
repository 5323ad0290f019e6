/**
 * The one `--format` grammar every printing command takes (Docker's):
 *   (absent)             the command's usual output (a table, an id, …)
 *   json                 JSON
 *   table                the default table
 *   table TEMPLATE       a table whose header is derived from TEMPLATE's fields
 *   TEMPLATE             a Go template such as '{{.Name}}', applied to each object
 * As in Docker, the two-character sequences \t and \n in a template stand for tab and newline.
 * Anything else is an error, not a silent fallback. Pure.
 */
import { InvalidArgumentError } from '../../errors.js';
import { parseTemplate, type Template } from './template.js';

export type FormatSpec =
  { kind: 'default' } | { kind: 'json' } | { kind: 'table'; template?: Template } | { kind: 'template'; template: Template };

export const FORMAT_HELP = `json | table | 'table {{.Field}}\\t…' | a Go template such as '{{.Name}}'`;

const unescape = (s: string): string => s.replace(/\\t/g, '\t').replace(/\\n/g, '\n');

export function parseFormat(raw: string | undefined): FormatSpec {
  if (raw === undefined) return { kind: 'default' };
  const s = raw.trim();
  if (s === 'json') return { kind: 'json' };
  if (s === 'table') return { kind: 'table' };
  if (s.startsWith('table ') || s.startsWith('table\t') || s.startsWith('table\\t')) {
    const body = unescape(s.slice(s.startsWith('table\\t') ? 7 : 6)).replace(/^ +| +$/g, '');
    if (!body.includes('{{')) throw new InvalidArgumentError('format', `"${raw}": a table template needs at least one {{.Field}}`);
    return { kind: 'table', template: parseTemplate(body) };
  }
  if (s.includes('{{')) return { kind: 'template', template: parseTemplate(unescape(s)) };
  throw new InvalidArgumentError('format', `unknown format "${raw}": use ${FORMAT_HELP}`);
}
