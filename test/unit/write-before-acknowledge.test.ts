import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Effect } from '../../session-actor/src/core/effects.js';
import { FencedError } from '../../session-actor/src/persistence/session-store.js';
import { WriteBeforeAcknowledge, type ShardWriteHooks } from '../../session-actor/src/runner/write-before-acknowledge.js';

// Write before acknowledge (docs/sharding.md): nothing a turn produced leaves the process
// before the write of what it changed is acknowledged.

const count = (what: 'takeover'): Effect => ({ t: 'count', what });
const tick = () => new Promise((r) => setImmediate(r));

function harness(over: Partial<ShardWriteHooks> = {}) {
  const log: string[] = [];
  let finishWrite: (() => void) | undefined;
  let failWrite: ((e: Error) => void) | undefined;
  const hooks: ShardWriteHooks = {
    write: (keys) => {
      log.push(`write ${keys.join(',')}`);
      return new Promise<void>((res, rej) => {
        finishWrite = res;
        failWrite = rej;
      });
    },
    mayWrite: () => true,
    lose: (why) => log.push(`lose ${why}`),
    release: (effects, replies) => {
      log.push(`release ${effects.length} effects, ${replies.length} replies`);
      for (const r of replies) r();
    },
    failed: (_err, n) => log.push(`failed ${n}`),
    ...over,
  };
  const w = new WriteBeforeAcknowledge(hooks);
  return { w, log, done: () => finishWrite!(), fail: (e: Error) => failWrite!(e) };
}

test('the outputs and the reply of a turn are released only after its write is acknowledged', async () => {
  const h = harness();
  let replied = false;
  h.w.commit(['a'], [count('takeover')], () => (replied = true));
  await tick();
  assert.deepEqual(h.log, ['write a']);
  assert.equal(replied, false, 'nothing leaves before the write');
  h.done();
  await tick();
  assert.deepEqual(h.log, ['write a', 'release 1 effects, 1 replies']);
  assert.equal(replied, true);
});

test('turns during a write coalesce into the next write; a turn that changed nothing waits behind them', async () => {
  const h = harness();
  h.w.commit(['a'], []);
  await tick();
  h.w.commit(['b'], []);
  h.w.commit(['c'], []);
  h.w.commit([], [count('takeover')]);
  h.done();
  await tick();
  await tick();
  assert.deepEqual(h.log.slice(0, 3), ['write a', 'release 0 effects, 0 replies', 'write b,c']);
  h.done();
  await tick();
  assert.equal(h.log.at(-1), 'release 1 effects, 0 replies');
});

test('a turn that changed nothing with nothing pending is released at once', () => {
  const h = harness();
  h.w.commit([], [count('takeover')]);
  assert.deepEqual(h.log, ['release 1 effects, 0 replies']);
});

test('a transient failure keeps everything and retries; a fenced write loses the shard and releases nothing', async () => {
  const h = harness();
  h.w.commit(['a'], [count('takeover')]);
  await tick();
  h.fail(new Error('timeout'));
  await new Promise((r) => setTimeout(r, 120));
  assert.deepEqual(h.log, ['write a', 'failed 1', 'write a']);
  h.fail(new FencedError(1));
  await tick();
  assert.deepEqual(h.log, ['write a', 'failed 1', 'write a', 'lose fenced']);
});

test('an expired lease loses the shard before writing', async () => {
  const h = harness({ mayWrite: () => false });
  h.w.commit(['a'], [count('takeover')]);
  await tick();
  assert.deepEqual(h.log, ['lose lease']);
});

test('a lazy turn (a freed window slot) is written later, with the next write', async () => {
  const h = harness();
  h.w.commit(['a'], [], undefined, true);
  await tick();
  assert.deepEqual(h.log, [], 'not written at once');
  h.w.commit(['b'], []);
  await tick();
  assert.deepEqual(h.log, ['write b,a']);
});
