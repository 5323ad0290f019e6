#!/usr/bin/env node
// The weft CLI. Starts the bundle that `npm run build` makes (one CommonJS file: it starts
// ≈ 30–40 ms sooner than the ES modules it is built from, see bench/cli.ts); without one
// (e.g. after `tsc` alone) it runs the modules directly.
'use strict';
const path = require('node:path');
const bundle = path.join(__dirname, '../dist/src/cli/weft-cli.cjs');
try {
  require(bundle);
} catch (err) {
  if (err.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes(bundle)) throw err;
  import('../dist/src/cli/cli-entry.js');
}
