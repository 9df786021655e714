import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retainedCost, RetainedQuota } from '../../router/src/retained-quota.js';

const msg = (payload: string) => ({ topic: 't', payload: Buffer.from(payload), qos: 0 as const, retain: true, origin: 'c' });

test('a new topic beyond router.maxRetainedMessages is refused; replacing a stored topic is not', () => {
  const q = new RetainedQuota(2, 1000);
  assert.equal(q.check(1, undefined, 10), undefined);
  assert.equal(q.check(2, undefined, 10), 'maxRetainedMessages');
  assert.equal(q.check(2, 10, 10), undefined, 'a replacement does not add a message');
});

test('router.maxRetainedBytes counts the difference a replacement makes', () => {
  const q = new RetainedQuota(100, 100);
  q.bytes = 90;
  assert.equal(q.check(5, undefined, 10), undefined, 'exactly at the bound fits');
  assert.equal(q.check(5, undefined, 11), 'maxRetainedBytes');
  assert.equal(q.check(5, 20, 30), undefined, 'replacing 20 bytes by 30 fits');
  assert.equal(q.check(5, 20, 31), 'maxRetainedBytes');
});

test('the cost of a retained message is its UTF-8 topic bytes and payload bytes', () => {
  assert.equal(retainedCost('ü/a', msg('xyz')), 4 + 3);
});
