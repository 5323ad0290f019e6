/** The `--format` template engine and grammar: what Docker users write, Go's printing rules, errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultLabel, goString, parseTemplate, renderTemplate, templateHeader } from '../../src/cli/format/template.js';
import { parseFormat } from '../../src/cli/format/format-spec.js';
import { alignTabs, renderList, renderOne, type View } from '../../src/cli/output.js';

const net = {
  Name: 'front',
  Id: 'a'.repeat(64),
  Driver: 'bridge',
  EnableIPv6: false,
  IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.1.0.0/24', Gateway: '10.1.0.1' }] },
  Labels: { env: 'prod', team: 'net' },
  Options: { 'com.docker.network.bridge.name': 'br-front' },
  Containers: {},
};

const isFormatError = (e: unknown): boolean =>
  (e as { code?: string; field?: string }).code === 'WEFT_INVALID_ARGUMENT' && (e as { field?: string }).field === 'format';

describe('template engine', () => {
  it('reads fields, nested fields, dot and $', () => {
    assert.equal(renderTemplate('{{.Name}}', net), 'front');
    assert.equal(renderTemplate('{{.IPAM.Driver}} {{.IPAM.Config}}', net), 'default [{10.1.0.0/24 10.1.0.1}]');
    assert.equal(renderTemplate('{{range .IPAM.Config}}{{.Subnet}}/{{$.Name}}{{end}}', net), '10.1.0.0/24/front');
    assert.equal(renderTemplate('{{.}}', 'x'), 'x');
  });

  it('prints as Go does: maps sorted, structs by value, bools, numbers, missing map keys', () => {
    assert.equal(renderTemplate('{{.Labels}}', net), 'map[env:prod team:net]');
    assert.equal(renderTemplate('{{.EnableIPv6}} {{len .Labels}}', net), 'false 2');
    assert.equal(renderTemplate('{{.Labels.nope}}', net), '<no value>');
    assert.equal(renderTemplate('{{.IPAM.Options}}', net), 'map[]');
    assert.equal(goString(null), '<nil>');
    assert.equal(goString([1, 'a', true]), '[1 a true]');
  });

  it('json, join, upper, lower, index, len, printf, truncate, pipes', () => {
    assert.equal(renderTemplate('{{json .Labels}}', net), '{"env":"prod","team":"net"}');
    assert.deepEqual(JSON.parse(renderTemplate('{{json .}}', net)), net);
    assert.equal(renderTemplate('{{join (split "a,b,c" ",") "+"}}', {}), 'a+b+c');
    assert.equal(renderTemplate('{{.Name | upper}} {{lower "AB"}}', net), 'FRONT ab');
    assert.equal(renderTemplate('{{index .Labels "env"}} {{index .Options "com.docker.network.bridge.name"}}', net), 'prod br-front');
    assert.equal(renderTemplate('{{index .IPAM.Config 0 "Gateway"}}', net), '10.1.0.1');
    assert.equal(renderTemplate('{{(index .IPAM.Config 0).Subnet}}', net), '10.1.0.0/24');
    assert.equal(renderTemplate('{{printf "%-6s|%3d|%q" .Name 7 "x"}}', net), 'front |  7|"x"');
    assert.equal(renderTemplate('{{truncate .Id 12}}', net), 'aaaaaaaaaaaa');
  });

  it('range over maps with $k, $v (sorted keys), range else, if/else if/else, with, eq/not/and/or', () => {
    assert.equal(renderTemplate('{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}', net), 'env=prod;team=net;');
    assert.equal(renderTemplate('{{range .Containers}}x{{else}}none{{end}}', net), 'none');
    const t = '{{if eq .Driver "host"}}H{{else if eq .Driver "bridge"}}B{{else}}?{{end}}';
    assert.equal(renderTemplate(t, net), 'B');
    assert.equal(renderTemplate(t, { Driver: 'null' }), '?');
    assert.equal(renderTemplate('{{with .IPAM}}{{.Driver}}{{end}}{{with .Nope}}x{{else}}-{{end}}', net), 'default-');
    assert.equal(renderTemplate('{{if and .Name (not .EnableIPv6)}}v4{{end}}{{if or .EnableIPv6 .Internal}}!{{end}}', net), 'v4');
    assert.equal(renderTemplate('{{$n := .Name}}{{range .IPAM.Config}}{{$n}}:{{.Gateway}}{{end}}', net), 'front:10.1.0.1');
  });

  it('trims around {{- and -}} and skips comments', () => {
    assert.equal(renderTemplate('a  {{- .Name -}}  b{{/* note */}}', net), 'afrontb');
  });

  it('finds a key case-insensitively (Docker users type {{.Name}} on camelCase objects)', () => {
    assert.equal(renderTemplate('{{.Name}} {{.ID}}', { name: 'web', id: 'abc' }), 'web abc');
  });

  it('strict: a field missing from the top-level object is an error naming the known fields', () => {
    assert.throws(
      () => renderTemplate('{{.Nmae}}', { Name: 'x', ID: 'y' }, { strict: true }),
      (e: unknown) => {
        assert.ok(isFormatError(e));
        assert.match((e as Error).message, /can't evaluate field Nmae: known fields are Name, ID/);
        return true;
      },
    );
    assert.equal(renderTemplate('{{.Nmae}}', { Name: 'x' }), '<no value>', 'non-strict: Go map rule');
  });

  it('syntax errors are format errors with a reason', () => {
    for (const [src, re] of [
      ['{{.Name', /unclosed action/],
      ['{{range .X}}', /missing \{\{end\}\}/],
      ['{{end}}', /unexpected \{\{end\}\}/],
      ['{{nosuch .X}}', /function "nosuch" not defined/],
      ['{{"abc}}', /unterminated string/],
      ['{{.A | }}', /empty command/],
      ['{{$x}}', /undefined variable "\$x"/],
    ] as const) {
      assert.throws(
        () => renderTemplate(src, net),
        (e: unknown) => isFormatError(e) && re.test((e as Error).message),
        src,
      );
    }
  });

  it('table headers come from field names (view labels first, then CamelCase → CAMEL CASE)', () => {
    const t = parseTemplate('{{.ID}}\t{{.Name}}\t{{json .CreatedAt}}\t{{.IPAM.Config}}');
    assert.equal(
      templateHeader(t, (p) => ({ ID: 'NETWORK ID' })[p.join('.')] ?? defaultLabel(p)),
      'NETWORK ID\tNAME\tCREATED AT\tCONFIG',
    );
  });
});

describe('--format grammar', () => {
  it('json, table, table TEMPLATE, TEMPLATE; \\t and \\n as Docker unescapes them', () => {
    assert.equal(parseFormat(undefined).kind, 'default');
    assert.equal(parseFormat('json').kind, 'json');
    assert.deepEqual(parseFormat('table'), { kind: 'table' });
    const tt = parseFormat('table {{.Name}}\\t{{.ID}}');
    assert.equal(tt.kind, 'table');
    assert.equal(tt.kind === 'table' && tt.template ? renderTemplate(tt.template.source, { Name: 'a', ID: 'b' }) : '', 'a\tb');
    const t = parseFormat('{{.Name}}\\n');
    assert.equal(t.kind === 'template' ? t.template.source : '', '{{.Name}}\n');
  });

  it('an unknown format is an error, never a silent table', () => {
    for (const bad of ['xml', 'yaml', 'JSON', 'tablex', '']) {
      assert.throws(
        () => parseFormat(bad),
        (e: unknown) => isFormatError(e) && /use json \| table/.test((e as Error).message),
        bad,
      );
    }
    assert.throws(
      () => parseFormat('table plain'),
      (e: unknown) => isFormatError(e) && /needs at least one/.test((e as Error).message),
    );
  });
});

describe('output helper', () => {
  interface Row {
    ID: string;
    Name: string;
  }
  const view: View<Row> = {
    columns: [
      { header: 'ID', cell: (r) => r.ID },
      { header: 'NAME', cell: (r) => r.Name },
    ],
    strict: true,
    labels: { ID: 'NETWORK ID' },
    jsonList: 'lines',
  };
  const rows: Row[] = [
    { ID: '1', Name: 'alpha' },
    { ID: '22', Name: 'b' },
  ];

  it('renders default, table, json lines, templates and table templates of a list', () => {
    assert.equal(renderList(rows, undefined, view), 'ID   NAME\n1    alpha\n22   b\n');
    assert.equal(renderList(rows, 'table', view), renderList(rows, undefined, view));
    assert.equal(renderList(rows, 'json', view), '{"ID":"1","Name":"alpha"}\n{"ID":"22","Name":"b"}\n');
    assert.equal(renderList(rows, '{{.Name}}', view), 'alpha\nb\n');
    assert.equal(renderList(rows, 'table {{.Name}}\\t{{.ID}}', view), 'NAME    NETWORK ID\nalpha   1\nb       22\n');
    assert.equal(renderList([], 'json', { ...view, jsonList: 'array' }), '[]\n');
  });

  it('renders one object: default is the plain form, json the object', () => {
    assert.equal(
      renderOne(rows[0]!, undefined, view, (r) => r.ID),
      '1\n',
    );
    assert.deepEqual(JSON.parse(renderOne(rows[0]!, 'json', view, (r) => r.ID)), rows[0]);
    assert.equal(
      renderOne(rows[0]!, '{{.Name}}', view, (r) => r.ID),
      'alpha\n',
    );
  });

  it('aligns tab-separated cells with three spaces', () => {
    assert.equal(alignTabs(['a\tbb\tc', 'aaaa\tb\tc']), 'a      bb   c\naaaa   b    c\n');
  });
});
