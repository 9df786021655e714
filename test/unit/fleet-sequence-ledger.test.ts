import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SequenceLedger } from '../../loadtest/src/fleet/sequence-ledger.js';

test('an acknowledged message not received is owed; receiving it, in any order, settles it', () => {
  const l = new SequenceLedger(2);
  const a = l.issue(0);
  const b = l.issue(0);
  const c = l.issue(1);
  l.acknowledge(0, a);
  l.acknowledge(0, b);
  assert.equal(l.acknowledgedNotReceived(), 2);
  assert.equal(l.receive(0, b, false), 'first');
  // Received before its PUBACK: never owed.
  assert.equal(l.receive(1, c, false), 'first');
  l.acknowledge(1, c);
  assert.equal(l.acknowledgedNotReceived(), 1);
  assert.deepEqual(l.examplesNotReceived(5), [[0, a]]);
  assert.equal(l.unanswered(), 0);
});

test('second copies: with DUP, without DUP after the publisher lost its connection, and without DUP otherwise', () => {
  const l = new SequenceLedger(1);
  for (let i = 0; i < 3; i++) l.issue(0);
  l.acknowledge(0, 0);
  l.publisherLostConnection(0); // seqs 1 and 2 were in flight: mqtt.js may send them again
  for (let seq = 0; seq < 3; seq++) assert.equal(l.receive(0, seq, false), 'first');
  assert.equal(l.receive(0, 0, true), 'duplicate-with-dup');
  assert.equal(l.receive(0, 1, false), 'duplicate-resent-by-publisher');
  assert.equal(l.receive(0, 0, false), 'duplicate-without-dup');
  assert.deepEqual([l.counts.received, l.counts.duplicatesWithDup, l.counts.duplicatesResentByPublisher, l.counts.duplicatesWithoutDup], [3, 1, 1, 1]);
});

test('sequences far beyond the first ones grow the sets', () => {
  const l = new SequenceLedger(1);
  for (let i = 0; i < 100_000; i++) l.issue(0);
  l.acknowledge(0, 99_999);
  assert.equal(l.receive(0, 99_999, false), 'first');
  assert.equal(l.acknowledgedNotReceived(), 0);
  assert.equal(l.counts.sent, 100_000);
});
