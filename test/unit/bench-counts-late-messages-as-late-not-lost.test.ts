import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeqTracker } from '../../loadtest/src/seq-tracker.js';

// The load generator's loss count: a message written off after a stall, or skipped by a gap,
// that arrives after all was late, not lost.

test('messages written off after a stall that arrive after all count as late, not lost', () => {
  const t = new SeqTracker(1);
  t.forget(0, 20); // the first window of 20 got no answer within the stall timeout
  assert.equal(t.lost, 20);
  for (let s = 0; s < 15; s++) assert.equal(t.observe(0, s), 'old');
  assert.equal(t.observe(0, 3), 'old', 'a duplicate');
  assert.equal(t.lost, 5, 'the 5 that never came');
  assert.equal(t.old, 16);
  assert.equal(t.observe(0, 20), 'next');
});

test('messages skipped by a gap that arrive out of order are taken back from the loss', () => {
  const t = new SeqTracker(2);
  t.observe(1, 0);
  assert.equal(t.observe(1, 4), 'gap');
  assert.equal(t.lost, 3);
  t.observe(1, 2);
  t.observe(1, 1);
  assert.equal(t.lost, 1, 'sequence 3 is still missing');
  assert.equal(t.accounted(0), 0, 'other publishers untouched');
});
