import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../../common/src/token-bucket.js';

test('a token bucket allows its burst, then asks the caller to wait in proportion to the rate', () => {
  const b = new TokenBucket(10, 3, 0);
  assert.deepEqual([b.take(0), b.take(0), b.take(0)], [0, 0, 0]);
  assert.equal(b.take(0), 100, 'one token short at 10/s: 100 ms');
  assert.equal(b.take(0), 200, 'two short: 200 ms');
  assert.equal(b.take(1000), 0, 'refilled after a second');
});
