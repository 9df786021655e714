import { readFileSync } from 'node:fs';

/** The version in package.json (dist/bin/cli/<this>.js -> ../../../package.json). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
