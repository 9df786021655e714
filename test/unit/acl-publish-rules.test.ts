import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPublish } from '../../common/src/acl/check-acl.js';
import { compileAcl } from '../../auth-service/src/acl/compile-acl.js';

const ctx = { mountpoint: '', clientId: 'dev-1', username: 'alice' };
const pub = (json: unknown) => compileAcl(JSON.stringify(json), null, ctx).acl;

test('no ACL (anonymous mode) allows every publish', () => {
  assert.equal(checkPublish(null, 'any/topic', 2, true, 1 << 20), true);
});

test('a NULL or empty publish_acl allows nothing (VerneMQ)', () => {
  assert.equal(checkPublish(compileAcl(null, null, ctx).acl, 'a', 0, false, 0), false);
  assert.equal(checkPublish(pub([]), 'a', 0, false, 0), false);
});

test('pattern with wildcards matches like an MQTT filter; defaults allow qos 2, retain and 256 MB', () => {
  const acl = pub([{ pattern: 'sensors/+/temp' }, { pattern: 'logs/#' }]);
  assert.equal(checkPublish(acl, 'sensors/k1/temp', 2, true, 268435456), true);
  assert.equal(checkPublish(acl, 'sensors/k1/temp', 0, false, 268435457), false);
  assert.equal(checkPublish(acl, 'sensors/k1/hum', 0, false, 1), false);
  assert.equal(checkPublish(acl, 'logs', 0, false, 1), true, 'a/# matches its parent a');
  assert.equal(checkPublish(acl, 'logs/x/y', 0, false, 1), true);
  assert.equal(checkPublish(acl, 'other', 0, false, 1), false);
});

test('max_qos, max_payload_size and allowed_retain limit an entry', () => {
  const acl = pub([{ pattern: 'a', max_qos: 1, max_payload_size: 10, allowed_retain: false }]);
  assert.equal(checkPublish(acl, 'a', 1, false, 10), true);
  assert.equal(checkPublish(acl, 'a', 2, false, 10), false);
  assert.equal(checkPublish(acl, 'a', 1, false, 11), false);
  assert.equal(checkPublish(acl, 'a', 1, true, 10), false);
});

test('any entry whose pattern and limits hold allows the publish', () => {
  const acl = pub([
    { pattern: 'a/#', max_qos: 0 },
    { pattern: 'a/b', max_qos: 2, allowed_retain: false },
    { pattern: '#', max_payload_size: 5 },
  ]);
  assert.equal(checkPublish(acl, 'a/b', 2, false, 100), true, 'second entry');
  assert.equal(checkPublish(acl, 'a/b', 2, true, 3), true, 'third entry');
  assert.equal(checkPublish(acl, 'a/b', 2, true, 100), false, 'none holds');
});

test('a pattern starting with a wildcard does not grant $ topics [MQTT-4.7.2-1]', () => {
  const acl = pub([{ pattern: '#' }, { pattern: '+/x' }]);
  assert.equal(checkPublish(acl, '$SYS/x', 0, false, 1), false);
  assert.equal(checkPublish(acl, 'ok/x', 0, false, 1), true);
  assert.equal(checkPublish(pub([{ pattern: '$SYS/#' }]), '$SYS/x', 0, false, 1), true);
});

test('the compiled ACL survives JSON (it travels gateway-bound in the CONNECT answer)', () => {
  const acl = pub([{ pattern: 'devices/%c/#', max_qos: 1 }]);
  const copy = JSON.parse(JSON.stringify(acl));
  assert.deepEqual(copy, acl);
  assert.equal(checkPublish(copy, 'devices/dev-1/x', 1, false, 1), true);
  assert.equal(checkPublish(copy, 'devices/dev-2/x', 1, false, 1), false);
});
