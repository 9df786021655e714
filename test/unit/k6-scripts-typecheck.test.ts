import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// Compiled to dist/test/unit/: the repository root is three levels up.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const k6Dir = join(repoRoot, 'loadtest', 'k6');
const tsconfig = join(k6Dir, 'tsconfig.json');
// The project's own tsc (what `npx tsc` runs), started directly so the test needs no npm on PATH.
const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');

function runTsc(...args: string[]) {
  return spawnSync(process.execPath, [tsc, '-p', tsconfig, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
}

test('k6 scripts type-check against @types/k6 and the k6/x/mqtt declaration', () => {
  const r = runTsc('--noEmit');
  assert.equal(r.status, 0, `tsc -p loadtest/k6/tsconfig.json failed:\n${r.stdout}${r.stderr}`);
});

test('every k6 script and the k6/x/mqtt declaration are part of that check', () => {
  const r = runTsc('--listFilesOnly');
  assert.equal(r.status, 0, r.stderr);
  const listed = new Set(r.stdout.split('\n').map((l) => resolve(l.trim())));
  const expected = [
    ...readdirSync(k6Dir)
      .filter((f) => f.endsWith('.js'))
      .map((f) => join(k6Dir, f)),
    ...readdirSync(join(k6Dir, 'lib'))
      .filter((f) => f.endsWith('.js'))
      .map((f) => join(k6Dir, 'lib', f)),
    join(k6Dir, 'types', 'k6-x-mqtt.d.ts'),
  ];
  assert.ok(expected.length >= 5, `expected the k6 scripts, found ${expected.join(', ')}`);
  for (const f of expected) assert.ok(listed.has(f), `${f} is not type-checked`);
});
