/** `weft --version`: the package version, read from package.json only when asked. */
import { readFileSync } from 'node:fs';

export function weftVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
