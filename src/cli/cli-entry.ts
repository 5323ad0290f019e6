/** Runs the CLI. bin/weft.js starts the bundle built from this file (dist/src/cli/weft-cli.cjs), or this file itself. */
import { main } from './main.js';

void main(process.argv).then((code) => {
  process.exitCode = code;
});
