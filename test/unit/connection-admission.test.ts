import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admission, connectionCap } from '../../gateway/src/connection-admission.js';

test('mqtt.maxConnections 0 derives the cap from the open-file limit, keeping a tenth (at least 32) in reserve', () => {
  assert.equal(connectionCap(0, 256), 224);
  assert.equal(connectionCap(0, 20000), 18000);
  assert.equal(connectionCap(0, 20), 1, 'never below one');
  assert.equal(connectionCap(0, undefined), Number.POSITIVE_INFINITY, 'no known limit: no derived cap');
  assert.equal(connectionCap(500, 256), 500, 'an explicit setting wins');
});

test('a new connection is refused at the connection cap, then at the pending-CONNECT cap', () => {
  assert.equal(admission(9, 0, 10, 5), undefined);
  assert.equal(admission(10, 0, 10, 5), 'max_connections');
  assert.equal(admission(3, 5, 10, 5), 'pending_connects');
  assert.equal(admission(10, 5, 10, 5), 'max_connections');
});
