// Type-aware lint for weft. `npm run lint` (tsc, eslint, prettier --check) fails on any
// warning; CI runs it as its own stage (.ci/run).
//
// Errors never vanish: a promise's failure must not be dropped by `.catch(() => undefined)`,
// `.catch(() => {})`, `.catch(() => void 0)` or a `.then(ok, () => undefined)`; an empty
// `catch {}` block needs a comment saying why swallowing is safe (core `no-empty`). Where
// dropping a failure really is right, say why on the line:
//   // eslint-disable-next-line no-restricted-syntax -- <why it is safe>
// Unused disable comments are errors, so an exemption cannot outlive its reason.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { boundaries } from './eslint.boundaries.config.js';

const SILENT = 'a failure must not vanish: handle it, log it with what failed, or aggregate it (see eslint.config.js)';
const silentCatches = [
  {
    selector: "CallExpression[callee.property.name='catch'] > ArrowFunctionExpression[body.type='Identifier'][body.name='undefined']",
    message: SILENT,
  },
  {
    selector: "CallExpression[callee.property.name='catch'] > ArrowFunctionExpression[body.type='BlockStatement'][body.body.length=0]",
    message: SILENT,
  },
  {
    selector: "CallExpression[callee.property.name='catch'] > ArrowFunctionExpression[body.type='UnaryExpression'][body.operator='void']",
    message: SILENT,
  },
  { selector: "CallExpression[callee.property.name='catch'] > FunctionExpression[body.body.length=0]", message: SILENT },
  {
    selector:
      "CallExpression[callee.property.name='then'][arguments.length=2] > ArrowFunctionExpression:nth-child(2)[body.type='Identifier'][body.name='undefined']",
    message: SILENT,
  },
  {
    selector:
      "CallExpression[callee.property.name='then'][arguments.length=2] > ArrowFunctionExpression:nth-child(2)[body.type='BlockStatement'][body.body.length=0]",
    message: SILENT,
  },
];

export default tseslint.config(
  {
    ignores: ['dist/**', 'dist-coverage/**', 'coverage/**', 'node_modules/**', 'bin/**', 'eslint.config.js', 'eslint.boundaries.config.js'],
  },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'before', 'after', 'beforeEach', 'afterEach', 'suite'],
            },
          ],
        },
      ],
      // Async functions without await are fine: they keep a uniform Promise-returning contract.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      'no-restricted-syntax': ['error', ...silentCatches],
    },
  },
  ...boundaries,
);
