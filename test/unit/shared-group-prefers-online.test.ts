import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '../../common/src/envelope/message.js';
import { fanOut } from '../../router/src/fan-out.js';
import { SubscriptionIndex } from '../../router/src/index/subscription-index.js';
import type { MergedCopies } from '../../router/src/matched-targets.js';

test('fan-out sends a $share group message to a connected member when one is offline, and still to someone when all are', () => {
  const index = new SubscriptionIndex<MergedCopies>();
  for (const key of ['a', 'b']) index.add('', 'jobs', { key, qos: 1, noLocal: false, retainAsPublished: false }, 'g');
  const m: Message = { topic: 'jobs', payload: Buffer.from('x'), qos: 1, retain: false, origin: 'p' };
  const offline = new Set(['a']);
  const keys = (eligible?: (k: string) => boolean) => [...fanOut(index, 4, '', m, eligible).values()].flat().map((t) => t.key);
  for (let i = 0; i < 4; i++)
    assert.deepEqual(
      keys((k) => !offline.has(k)),
      ['b'],
    );
  offline.add('b');
  assert.equal(keys((k) => !offline.has(k)).length, 1, 'nobody connected: one member still gets it (queued)');
});

test('fanOutToGroup picks one other member of that group only, never the excluded one or plain subscribers', async () => {
  const { fanOutToGroup } = await import('../../router/src/fan-out.js');
  const index = new SubscriptionIndex<MergedCopies>();
  for (const key of ['a', 'b']) index.add('', 'jobs', { key, qos: 1, noLocal: false, retainAsPublished: false }, 'g');
  index.add('', 'jobs', { key: 'plain', qos: 1, noLocal: false, retainAsPublished: false });
  index.add('', 'jobs', { key: 'other', qos: 1, noLocal: false, retainAsPublished: false }, 'h');
  const m: Message = { topic: 'jobs', payload: Buffer.from('x'), qos: 1, retain: false, origin: 'p' };
  for (let i = 0; i < 4; i++) {
    const keys = [...fanOutToGroup(index, 4, '', m, 'g', 'a', () => true).values()].flat().map((t) => t.key);
    assert.deepEqual(keys, ['b']);
  }
  const offlineOnly = [...fanOutToGroup(index, 4, '', m, 'g', 'a', (k) => k !== 'b').values()].flat().map((t) => t.key);
  assert.deepEqual(offlineOnly, ['b'], 'an offline member still takes it (queued) rather than losing it');
});
