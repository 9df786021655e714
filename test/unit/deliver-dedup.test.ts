import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentDeliveries } from '../../session-actor/src/runner/deliver-dedup.js';

test('a router retry of a Deliver id already taken by the same serving is recognised; the memory is bounded', () => {
  const serving = {};
  const r = new RecentDeliveries(3);
  assert.equal(r.seen('a', serving), false);
  assert.equal(r.seen('a', serving), true, 'the retry');
  r.seen('b', serving);
  r.seen('c', serving);
  r.seen('d', serving); // evicts 'a'
  assert.equal(r.seen('b', serving), true);
  assert.equal(r.seen('a', serving), false, 'forgotten after capacity newer ids');
});

test('a retry reaching a later serving of the shard (reloaded after a lost lease) is delivered, not dropped', () => {
  const r = new RecentDeliveries(10);
  const first = {};
  const second = {};
  r.seen('x', first);
  assert.equal(r.seen('x', second), false, 'the copy may not be in the store');
  assert.equal(r.seen('x', second), true);
});
