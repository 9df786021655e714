import assert from 'node:assert/strict';
import { test } from 'node:test';
import { atTurnEnd, atTurnEndLast } from '../../common/src/turn-end.js';

/**
 * The turn end (common/src/turn-end.ts): what a per-turn batch causes (another batch, the NATS
 * socket flush of its messages) runs in the same check phase, not one loop iteration later; each
 * task is followed by the microtasks it queued (the memory bus delivers in one); the NATS flush
 * (a `last` task) runs after everything else; and a chain that never ends still lets the next
 * turn's callbacks run. Order only: nothing here depends on timing.
 */

/** Resolves once the check phase after the current one ran (two setImmediate hops). */
const twoTurns = () => new Promise<void>((r) => setImmediate(() => setImmediate(r)));

test('a task queued by a turn-end task runs in the same turn, before what waits for the next turn', async () => {
  const order: string[] = [];
  atTurnEnd(() => {
    order.push('batch');
    // Queued in the check phase: a plain setImmediate runs in the next loop iteration.
    setImmediate(() => order.push('next turn'));
    atTurnEnd(() => order.push('chained batch'));
  });
  await twoTurns();
  await twoTurns();
  assert.deepEqual(order, ['batch', 'chained batch', 'next turn']);
});

test('the microtasks of a task run before the next task, and what they queue runs in the same turn', async () => {
  const order: string[] = [];
  atTurnEnd(() => {
    order.push('route batch sent');
    setImmediate(() => order.push('next turn'));
    // As the memory bus does: the receiver runs in a microtask and queues its own per-turn batch.
    queueMicrotask(() => {
      order.push('delivered');
      atTurnEnd(() => order.push('gateway output'));
    });
  });
  atTurnEnd(() => order.push('second batch'));
  await twoTurns();
  await twoTurns();
  assert.deepEqual(order, ['route batch sent', 'delivered', 'second batch', 'gateway output', 'next turn']);
});

test('last tasks run once no other task is left, also ones queued after them', async () => {
  const order: string[] = [];
  atTurnEndLast(() => order.push('nats flush'));
  atTurnEnd(() => {
    order.push('owner batch');
    atTurnEnd(() => order.push('shard write'));
  });
  await twoTurns();
  assert.deepEqual(order, ['owner batch', 'shard write', 'nats flush']);
});

test('a chain that keeps queuing work goes on in later turns and lets their callbacks run', async () => {
  const total = 100_000;
  let n = 0;
  let atImmediate = -1;
  const again = () => {
    if (n === 0) setImmediate(() => (atImmediate = n));
    if (++n < total) atTurnEnd(again);
  };
  atTurnEnd(again);
  for (let i = 0; i < 1000 && n < total; i++) await twoTurns();
  assert.equal(n, total);
  assert.ok(atImmediate > 0 && atImmediate < total, `the next turn's callback ran after ${atImmediate} of ${total} tasks`);
});
