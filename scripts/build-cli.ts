/**
 * Builds what makes `weft` start fast, after `tsc` (run by `npm run build`):
 *  - dist/src/cli/weft-cli.cjs: the CLI and commander in one CommonJS file (esbuild). It sits
 *    beside main.js so paths it derives from import.meta.url stay the same. Other packages
 *    stay external (native ones cannot be bundled). Loading one file instead of ~25 ES modules
 *    saves ≈ 30 ms of the CLI's start here (bench/cli.ts).
 *  - dist/bin/weft-exec: the compiled sandbox exec helper (src/kernel/sandbox-exec.c).
 *  - dist/bin/weft: the compiled launcher (src/cli/weft-launcher.c), the command users run: it
 *    runs a plain foreground `weft run` itself (no Node start) and execs the Node CLI
 *    (bin/weft.js, with the node that ran this build) for everything else.
 * Each step says what it does; a missing esbuild (production install without dev
 * dependencies) leaves the CLI unbundled, which bin/weft.js handles; a missing compiler fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const say = (s: string): void => void process.stdout.write(`build-cli: ${s}\n`);

async function bundle(): Promise<void> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    say('esbuild is not installed (dev dependency): the CLI runs unbundled (slower start)');
    return;
  }
  const out = path.join(REPO, 'dist/src/cli/weft-cli.cjs');
  say(`bundling the CLI into ${path.relative(REPO, out)}`);
  await esbuild.build({
    entryPoints: [path.join(REPO, 'dist/src/cli/cli-entry.js')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    // The modules use import.meta.url; in CommonJS the bundle's own URL stands in (same folder).
    define: { 'import.meta.url': '__weft_import_meta_url' },
    banner: { js: "const __weft_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
    plugins: [
      {
        name: 'external-packages-but-commander',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path === 'commander' || args.path.startsWith('commander/') ? undefined : { path: args.path, external: true },
          );
        },
      },
    ],
  });
}

/** Compile one small C program into dist/bin (warnings are errors). */
function compile(what: string, source: string, name: string, defines: string[] = []): void {
  const outDir = path.join(REPO, 'dist/bin');
  const out = path.join(outDir, name);
  mkdirSync(outDir, { recursive: true });
  say(`compiling ${what} into ${path.relative(REPO, out)}`);
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-Wshadow', ...defines, '-o', `${out}.tmp`, path.join(REPO, source)], {
    stdio: 'inherit',
  });
  renameSync(`${out}.tmp`, out);
}

compile('the sandbox exec helper', 'src/kernel/sandbox-exec.c', 'weft-exec');
// The node the build ran with is the one the launcher hands other verbs to (else node on PATH);
// the checkout is where a copy of the launcher outside it finds bin/weft.js and weft-exec.
compile('the weft launcher', 'src/cli/weft-launcher.c', 'weft', [
  `-DWEFT_NODE=${JSON.stringify(process.execPath)}`,
  `-DWEFT_REPO=${JSON.stringify(REPO)}`,
]);
await bundle();
