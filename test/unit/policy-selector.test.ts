import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../src/errors.js';
import { SelectorSyntaxError } from '../../src/policy/policy-errors.js';
import { Selector } from '../../src/policy/selector.js';

const web = { role: 'web', env: 'prod', tier: 'frontend-1' };
const db = { role: 'db', env: 'dev' };
const bare = {};

describe('selector evaluation (Calico semantics)', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['all()', bare, true],
    ['global()', web, true],
    ["role == 'web'", web, true],
    ["role == 'web'", db, false],
    ["role == 'web'", bare, false],
    // != and not in also match endpoints without the label, as Calico's evaluator does.
    ["role != 'web'", db, true],
    ["role != 'web'", web, false],
    ["role != 'web'", bare, true],
    ["role in {'web', 'db'}", db, true],
    ['role in {"x"}', db, false],
    ['role in {}', db, false],
    ["role not in {'web'}", db, true],
    ["role not in {'web'}", web, false],
    ["role not in {'web'}", bare, true],
    ['has(role)', web, true],
    ['has(role)', bare, false],
    ['!has(role)', bare, true],
    ['! has(role)', web, false],
    ["tier contains 'end'", web, true],
    ["tier starts with 'front'", web, true],
    ["tier ends with '-1'", web, true],
    ["tier ends with '-2'", web, false],
    ["tier contains 'x'", bare, false],
    ["role == 'web' && env == 'prod'", web, true],
    ["role == 'web' && env == 'dev'", web, false],
    ["role == 'web' || env == 'dev'", db, true],
    // && binds tighter than ||.
    ["role == 'db' || role == 'web' && env == 'dev'", web, false],
    ["(role == 'db' || role == 'web') && env == 'prod'", web, true],
    ["!(role == 'web' && env == 'prod')", web, false],
    ['!!has(role)', web, true],
    ['x.io/name-1 == "a"', { 'x.io/name-1': 'a' }, true],
    ['has(in)', { in: '' }, true],
    ["in == 'x'", { in: 'x' }, true],
    ["has == 'y'", { has: 'y' }, true],
    ['role == ""', { role: '' }, true],
    [`v == 'say "hi"'`, { v: 'say "hi"' }, true],
    ['  role   ==   "web"  ', web, true],
  ];
  for (const [text, labels, want] of cases) {
    it(`${text} on ${JSON.stringify(labels)} → ${want}`, () => {
      assert.equal(Selector.parse(text).matches(labels), want);
    });
  }

  it('ignores inherited properties of the label map', () => {
    assert.equal(Selector.parse('has(toString)').matches({}), false);
    assert.equal(Selector.parse("constructor != 'x'").matches({}), true);
  });
});

describe('selector canonical text', () => {
  const cases: [string, string][] = [
    ["role=='web'", 'role == "web"'],
    ["role in { 'b','a', 'b' }", 'role in {"a", "b"}'],
    ["role not in {'x'}", 'role not in {"x"}'],
    ['all( )', 'all()'],
    ['has( role )', 'has(role)'],
    ['((a == "1"))', 'a == "1"'],
    ['a == "1" && (b == "2" && c == "3")', 'a == "1" && b == "2" && c == "3"'],
    ['(a == "1" || b == "2") && c == "3"', '(a == "1" || b == "2") && c == "3"'],
    ['a == "1" || (b == "2" && c == "3")', 'a == "1" || b == "2" && c == "3"'],
    ['!(a == "1" || b == "2")', '!(a == "1" || b == "2")'],
    [`v == 'say "hi"'`, `v == 'say "hi"'`],
    ['t starts   with "x"', 't starts with "x"'],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}`, () => {
      const s = Selector.parse(input);
      assert.equal(s.text, want);
      assert.equal(Selector.parse(s.text).text, want, 'canonical text parses to itself');
    });
  }

  it('and() scopes a selector and flattens', () => {
    const s = Selector.parse('a == "1" && b == "2"').and(Selector.parse('weft.network == "n"'));
    assert.equal(s.text, 'a == "1" && b == "2" && weft.network == "n"');
    assert.equal(Selector.ALL.and(Selector.parse('has(x)')).text, 'has(x)');
  });
});

describe('malformed selectors', () => {
  const bad: [string, RegExp][] = [
    ['', /empty selector/],
    ['   ', /empty selector/],
    ["role = 'web'", /column 6: "=" must be doubled/],
    ["role == 'web", /column 9: unterminated string/],
    ['role == web', /column 9: expected a quoted string/],
    ["role 'web'", /column 6: expected an operator after label "role"/],
    ["role == 'a' & b == 'c'", /"&" must be doubled/],
    ["role == 'a' | b == 'c'", /"\|" must be doubled/],
    ["(role == 'a'", /expected "\)", got end of selector/],
    ["role == 'a')", /expected "&&", "\|\|" or the end/],
    ["role == 'a' &&", /column 15: expected a label name/],
    ['has()', /column 5: expected a label name inside has/],
    ['has(a', /expected "\)" after the label name/],
    ['all(x)', /expected "\)" after "all\("/],
    ["role in 'a'", /expected "\{"/],
    ["role in {'a' 'b'}", /expected "," or "}"/],
    ["role in {'a',}", /expected a quoted string/],
    ["role not 'a'", /expected "in" after "not"/],
    ["role starts 'a'", /expected "with" after "starts"/],
    ["role == 'a' role == 'b'", /expected "&&", "\|\|" or the end/],
    ['role == "a" # x', /unexpected character "#"/],
    ['rôle == "a"', /unexpected character "ô"/],
    [`${'a'.repeat(513)} == "x"`, /label name of at most 512/],
    [`${'('.repeat(100)}has(a)${')'.repeat(100)}`, /at most 64 levels of nesting/],
    [`${'!'.repeat(100)}has(a)`, /at most 64 levels of nesting/],
    ['x == "' + 'y'.repeat(20_000) + '"', /longer than 16384/],
  ];
  for (const [text, re] of bad) {
    it(`refuses ${JSON.stringify(text.length > 60 ? text.slice(0, 60) + '…' : text)}`, () => {
      assert.throws(
        () => Selector.parse(text, 'spec.selector'),
        (e: unknown) => {
          assert.ok(e instanceof SelectorSyntaxError);
          assert.ok(e instanceof InvalidArgumentError);
          assert.equal(e.code, 'WEFT_INVALID_ARGUMENT');
          assert.equal(e.field, 'spec.selector');
          assert.match(e.message, /^spec\.selector: malformed selector/);
          assert.match(e.message, re);
          return true;
        },
      );
    });
  }
});
