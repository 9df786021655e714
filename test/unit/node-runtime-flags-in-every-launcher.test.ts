import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { nodeRuntimeFlags } from '../../common/src/node-runtime-flags.js';

/**
 * The heap-sizing flags (common/src/node-runtime-flags.ts) only work on node's command line, so every
 * launcher that starts `shardmq start` must spell them out: the container image, the local cluster
 * script, `npm start` (which imports the list) and the benchmark's broker targets (which import it too).
 */
const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');

describe('node runtime flags in every launcher', () => {
  it('the container image runs node with them before the CLI', () => {
    const entry = /^ENTRYPOINT (\[.*\])$/m.exec(read('deploy/Dockerfile'));
    assert.ok(entry, 'Dockerfile has an exec-form ENTRYPOINT');
    assert.deepEqual(JSON.parse(entry[1]), ['node', ...nodeRuntimeFlags, 'dist/bin/shardmq.js']);
  });

  it('deploy/local-cluster.sh starts every tier with them', () => {
    const starts = read('deploy/local-cluster.sh')
      .split('\n')
      .filter((l) => /\bnode\b.*"\$CLI" start/.test(l));
    assert.equal(starts.length, 1);
    assert.match(starts[0] ?? '', new RegExp(`node ${nodeRuntimeFlags.join(' ')} "\\$CLI" start`));
  });

  it('npm start and the benchmark take them from the shared list', () => {
    assert.match(read('scripts/start.mjs'), /spawn\(node, \[\.\.\.nodeRuntimeFlags, /);
    const targets = read('loadtest/src/brokers/broker-targets.ts');
    assert.equal(targets.match(/process\.execPath, \[\.\.\.nodeRuntimeFlags, (\.\.\.PROFILE_ARGS, )?shardmqEntry/g)?.length, 2);
  });

  it('node accepts them and they fix the size of the young generation', () => {
    const script = "const v8=require('node:v8');const k=[];for(let i=0;i<3e6;i++)k.push({i});console.log(v8.getHeapSpaceStatistics().find(x=>x.space_name==='new_space').space_size)";
    const r = spawnSync(process.execPath, [...nodeRuntimeFlags, '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    // Both semi-spaces together, after a burst of surviving objects that would grow them to the cap.
    assert.ok(Number(r.stdout.trim()) <= 2 * 16 * 1024 * 1024, `new space ${r.stdout.trim()} bytes`);
    // And at start-up, before the process has allocated anything much: a semi-space is already at its
    // full 16 MiB (without --min-semi-space-size it starts at 1 MiB and grows under load).
    const idle = spawnSync(process.execPath, [...nodeRuntimeFlags, '-p', "require('node:v8').getHeapSpaceStatistics().find(x=>x.space_name==='new_space').space_size"], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(idle.status, 0, idle.stderr);
    assert.equal(Number(idle.stdout.trim()), 16 * 1024 * 1024, `new space at start ${idle.stdout.trim()} bytes`);
  });
});
