#!/usr/bin/env node
// `npm start`: installs dependencies when missing, builds, then runs `shardmq start`
// (all roles in one process, in-memory bus) with any extra arguments passed through.
import { execSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' });
if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) run('npm ci --no-audit --no-fund');
run('npx tsc -b');
const child = spawn(process.execPath, [join(root, 'dist/bin/shardmq.js'), 'start', ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
