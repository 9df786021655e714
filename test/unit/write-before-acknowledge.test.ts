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

// Early sends (effects.ts): a PUBLISH the next owner would send again anyway leaves before the
// write, unless something older for the same connection still waits for a write.
function pub(connId: number, packetId: number, early: boolean): Effect {
  const item = { kind: 1 as never, connId, epoch: 1, packetId } as never;
  return early ? { t: 'gw', gateway: 'g', item, early } : { t: 'gw', gateway: 'g', item };
}

test('an early send leaves at once while a write is pending, when nothing older waits for its connection', async () => {
  const released: number[] = [];
  const h = harness({
    release: (effects, replies) => {
      for (const ef of effects) if (ef.t === 'gw') released.push((ef.item as { packetId: number }).packetId);
      for (const r of replies) r();
    },
  });
  h.w.commit(['a'], [pub(1, 10, false)]);
  await tick();
  // Connection 2 has nothing waiting: its early send goes now; connection 1's waits behind id 10.
  h.w.commit(['b'], [pub(2, 20, true), pub(1, 11, true)], undefined, true);
  assert.deepEqual(released, [20]);
  h.done();
  await tick();
  await tick();
  assert.deepEqual(released, [20, 10]);
  h.done();
  await tick();
  await tick();
  assert.deepEqual(released, [20, 10, 11], 'connection 1 in order: 10 before 11');
});

test('a turn with only early sends and a lazy change writes nothing before releasing them', async () => {
  const h = harness();
  h.w.commit(['a'], [pub(3, 30, true)], undefined, true);
  await tick();
  assert.deepEqual(h.log, ['release 1 effects, 0 replies'], 'released at once, the change kept for a later write');
});
