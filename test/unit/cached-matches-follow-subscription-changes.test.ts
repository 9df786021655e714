import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '../../common/src/envelope/message.js';
import type { DeliveryTarget } from '../../common/src/envelope/session-in.js';
import { fanOut } from '../../router/src/fan-out.js';
import { SubscriptionIndex, type SubEntry } from '../../router/src/index/subscription-index.js';
import type { MergedCopies } from '../../router/src/matched-targets.js';

/**
 * The router caches what a topic matches, and the copies merged from it, per mountpoint: every
 * subscription change of that mountpoint shows in the very next message to a cached topic, and
 * a bounded cache gives the same copies as no cache.
 */

const entry = (key: string, qos: 0 | 1 | 2, o: Partial<SubEntry> = {}): SubEntry => ({ key, qos, noLocal: false, retainAsPublished: false, ...o });
const msg = (topic: string, origin = 'publisher'): Message => ({ topic, payload: Buffer.from('x'), qos: 2, retain: false, origin });
const copies = (index: SubscriptionIndex<MergedCopies>, topic: string, origin?: string, shards = 4): string[] =>
  [...fanOut(index, shards, '', msg(topic, origin)).values()]
    .flat()
    .map((t: DeliveryTarget) => `${t.key}:${t.qos}${t.group === undefined ? '' : `@${t.group}`}[${[...t.subIds].sort((a, b) => a - b).join(',')}]`)
    .sort();

test('add, replace, remove and removeKey show in the next message to a cached topic', () => {
  const index = new SubscriptionIndex<MergedCopies>();
  index.add('', 'a/+', entry('s1', 0));
  assert.deepEqual(copies(index, 'a/b'), ['s1:0[]']);
  assert.deepEqual(copies(index, 'a/b'), ['s1:0[]'], 'served from the cache');
  index.add('', 'a/#', entry('s2', 1));
  assert.deepEqual(copies(index, 'a/b'), ['s1:0[]', 's2:1[]']);
  index.add('', 'a/+', entry('s1', 2, { subId: 7 })); // replaced: another QoS and an identifier
  assert.deepEqual(copies(index, 'a/b'), ['s1:2[7]', 's2:1[]']);
  index.add('', 'a/b', entry('s1', 1, { subId: 8 })); // overlapping: merged into s1's copy
  assert.deepEqual(copies(index, 'a/b'), ['s1:2[7,8]', 's2:1[]']);
  index.add('', 'a/b', entry('g1', 1), 'grp');
  assert.deepEqual(copies(index, 'a/b'), ['g1:1@grp[]', 's1:2[7,8]', 's2:1[]']);
  index.remove('', 'a/+', 's1');
  assert.deepEqual(copies(index, 'a/b'), ['g1:1@grp[]', 's1:1[8]', 's2:1[]']);
  index.removeKey('s1');
  index.removeKey('g1');
  assert.deepEqual(copies(index, 'a/b'), ['s2:1[]']);
  index.removeKey('s2');
  assert.deepEqual(copies(index, 'a/b'), []);
  index.add('', 'a/b', entry('s3', 0));
  assert.deepEqual(copies(index, 'a/b'), ['s3:0[]'], 'a mountpoint pruned and made again');
});

test('No Local leaves out only the publisher, whether or not the topic is cached [MQTT-3.8.3-3]', () => {
  const index = new SubscriptionIndex<MergedCopies>();
  index.add('', 't/#', entry('me', 1, { noLocal: true, subId: 1 }));
  index.add('', 't/x', entry('me', 0, { subId: 2 }));
  index.add('', 't/x', entry('other', 1, { noLocal: true }));
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(copies(index, 't/x', 'me'), ['me:0[2]', 'other:1[]']);
    assert.deepEqual(copies(index, 't/x', 'other'), ['me:1[1,2]']);
    assert.deepEqual(copies(index, 't/x', 'someone'), ['me:1[1,2]', 'other:1[]']);
  }
});

test('a shared group still rotates over its members when the topic is cached [MQTT-4.8.2]', () => {
  const index = new SubscriptionIndex<MergedCopies>();
  for (const k of ['m1', 'm2', 'm3']) index.add('', 'jobs/+', entry(k, 1), 'workers');
  const picked = Array.from({ length: 6 }, () => copies(index, 'jobs/1')[0]);
  assert.deepEqual(picked, ['m1:1@workers[]', 'm2:1@workers[]', 'm3:1@workers[]', 'm1:1@workers[]', 'm2:1@workers[]', 'm3:1@workers[]']);
});

test('a cache of one topic, or none, gives the same copies as a large one', () => {
  const indexes = [new SubscriptionIndex<MergedCopies>(), new SubscriptionIndex<MergedCopies>(1), new SubscriptionIndex<MergedCopies>(0)];
  let full = 0;
  const small = new SubscriptionIndex<MergedCopies>(1, () => full++);
  indexes.push(small);
  for (const ix of indexes) {
    ix.add('', 'd/+/t', entry('all', 0));
    ix.add('', 'd/1/t', entry('one', 1));
  }
  for (let i = 0; i < 20; i++) {
    const topic = `d/${i % 3}/t`;
    const expected = copies(indexes[0]!, topic);
    for (const ix of indexes) assert.deepEqual(copies(ix, topic), expected, topic);
  }
  assert.ok(full > 0, 'the one-topic cache started over');
});

test('copies are grouped by the shard count asked for, also from the cache', () => {
  const index = new SubscriptionIndex<MergedCopies>();
  for (let k = 0; k < 20; k++) index.add('', 'x', entry(`s${k}`, 0));
  assert.equal(fanOut(index, 1, '', msg('x')).size, 1);
  assert.ok(fanOut(index, 16, '', msg('x')).size > 1);
  assert.equal(fanOut(index, 1, '', msg('x')).size, 1);
});
