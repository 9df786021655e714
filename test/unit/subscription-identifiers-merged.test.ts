import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeliveryTarget } from '../../common/src/envelope/session-in.js';
import type { Message } from '../../common/src/envelope/message.js';
import { fanOut } from '../../router/src/fan-out.js';
import { SubscriptionIndex, type SubEntry } from '../../router/src/index/subscription-index.js';
import { MatchedTargets, type MergedCopies } from '../../router/src/matched-targets.js';

/** The router's merge of one session's matching subscriptions into copies [MQTT-3.3.4-2..5] (5.0). */

const entry = (key: string, qos: 0 | 1 | 2, subId?: number, o: Partial<SubEntry> = {}): SubEntry => ({ key, qos, noLocal: false, retainAsPublished: false, ...(subId ? { subId } : {}), ...o });
const all = (t: MatchedTargets) => [...t.byShard(1).values()].flat();
const sorted = (ts: DeliveryTarget[]) => ts.map((t) => ({ ...t, subIds: [...t.subIds].sort((a, b) => a - b) })).sort((a, b) => (a.key + (a.group ?? '')).localeCompare(b.key + (b.group ?? '')));

test('non-shared matches of one session: one copy, highest QoS, every identifier once, Retain As Published if any', () => {
  const t = new MatchedTargets('publisher');
  t.add(entry('s', 0, 2), undefined);
  t.add(entry('s', 2, 3, { retainAsPublished: true }), undefined);
  t.add(entry('s', 1, 3), undefined); // the same identifier on two filters appears once
  t.add(entry('s', 1), undefined); // a subscription without identifier adds none
  assert.deepEqual(sorted(all(t)), [{ key: 's', qos: 2, retainAsPublished: true, subIds: [2, 3] }]);
});

test('a shared match is a copy of its own with its own identifier; two groups give two copies', () => {
  const t = new MatchedTargets('publisher');
  t.add(entry('s', 1, 6), 'g');
  t.add(entry('s', 1, 7), undefined);
  t.add(entry('s', 0, 8), undefined);
  t.add(entry('s', 2, 9), 'h');
  assert.deepEqual(sorted(all(t)), [
    { key: 's', qos: 1, retainAsPublished: false, subIds: [7, 8] },
    { key: 's', qos: 1, retainAsPublished: false, subIds: [6], group: 'g' },
    { key: 's', qos: 2, retainAsPublished: false, subIds: [9], group: 'h' },
  ]);
});

test('No Local drops only the non-shared match of the publishing session', () => {
  const t = new MatchedTargets('me');
  t.add(entry('me', 1, 1, { noLocal: true }), undefined);
  t.add(entry('other', 1, 1, { noLocal: true }), undefined);
  assert.deepEqual(
    all(t).map((x) => x.key),
    ['other'],
  );
});

test('fanOut through the index: exact + `<same>/#`, two wildcards, shared + non-shared', () => {
  const index = new SubscriptionIndex<MergedCopies>();
  index.add('', 'a/b', entry('s', 1, 2));
  index.add('', 'a/b/#', entry('s', 1, 3));
  index.add('', 'w/+/x', entry('w', 1, 4));
  index.add('', 'w/a/#', entry('w', 2, 5));
  index.add('', 'q/t', entry('q', 1, 6), 'g');
  index.add('', 'q/t', entry('q', 1, 7));
  const m = (topic: string): Message => ({ topic, payload: Buffer.from('x'), qos: 2, retain: false, origin: 'p' });
  const copies = (topic: string) => sorted([...fanOut(index, 8, '', m(topic)).values()].flat());
  assert.deepEqual(copies('a/b'), [{ key: 's', qos: 1, retainAsPublished: false, subIds: [2, 3] }]);
  assert.deepEqual(copies('w/a/x'), [{ key: 'w', qos: 2, retainAsPublished: false, subIds: [4, 5] }]);
  assert.deepEqual(copies('q/t'), [
    { key: 'q', qos: 1, retainAsPublished: false, subIds: [7] },
    { key: 'q', qos: 1, retainAsPublished: false, subIds: [6], group: 'g' },
  ]);
});
