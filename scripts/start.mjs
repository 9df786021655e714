#!/usr/bin/env node
// `npm start`: installs dependencies when missing, builds, then runs `shardmq start`
// (all roles in one process, in-memory bus) with any extra arguments passed through.
// On a node older than 22 it runs the broker with a Node 24 from npm (scripts/node24.mjs).
import { execSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeForProject } from './node24.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' });
if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) run('npm ci --no-audit --no-fund');
run('npx tsc -b');
const npm = process.env.npm_execpath?.endsWith('.js') ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
let node;
try {
  node = nodeForProject(root, npm, (msg) => process.stdout.write(`[start] ${msg}\n`));
} catch (err) {
  process.stderr.write(`[start] error: ${err.message}\n`);
  process.exit(1);
}
if (node !== process.execPath) process.stdout.write(`[start] node ${process.version} is older than 22: running shardmq with ${node}\n`);
const child = spawn(node, [join(root, 'dist/bin/shardmq.js'), 'start', ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
