import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPublish, checkSubscribe } from '../../common/src/acl/check-acl.js';
import { AclFormatError, compileAcl, lintAclJson } from '../../auth-service/src/acl/compile-acl.js';

test('%m, %u and %c are substituted on whole levels only', () => {
  const { acl } = compileAcl([{ pattern: '%m/%u/%c/#' }, { pattern: 'x/dev-%c' }, { pattern: 'y/%c%u' }], null, { mountpoint: 'mp1', clientId: 'c1', username: 'u1' });
  assert.deepEqual(
    acl.publish.map((r) => r.pattern),
    ['mp1/u1/c1/#', 'x/dev-%c', 'y/%c%u'],
  );
  assert.equal(checkPublish(acl, 'mp1/u1/c1/t', 0, false, 1), true);
  assert.equal(checkPublish(acl, 'x/dev-%c', 0, false, 1), true, 'embedded token stays literal');
  assert.equal(checkPublish(acl, 'x/dev-c1', 0, false, 1), false);
});

test('%c confines each device to its own topics', () => {
  const rows = [{ pattern: 'devices/%c/#' }];
  const a = compileAcl(rows, rows, { mountpoint: '', clientId: 'A', username: 'fleet' }).acl;
  const b = compileAcl(rows, rows, { mountpoint: '', clientId: 'B', username: 'fleet' }).acl;
  assert.equal(checkPublish(a, 'devices/A/t', 1, false, 1), true);
  assert.equal(checkPublish(a, 'devices/B/t', 1, false, 1), false);
  assert.equal(checkSubscribe(b, 'devices/B/#', 1), true);
  assert.equal(checkSubscribe(b, 'devices/A/#', 1), false);
  assert.equal(checkSubscribe(b, 'devices/+/t', 1), false);
});

test('a substituted value that would widen the pattern drops the entry', () => {
  for (const clientId of ['+', '#', 'a/b', '']) {
    const { acl, warnings } = compileAcl([{ pattern: 'devices/%c/#' }], null, { mountpoint: '', clientId, username: 'u' });
    assert.equal(acl.publish.length, 0, `client id ${JSON.stringify(clientId)}`);
    assert.equal(warnings.length, 1);
    assert.equal(checkPublish(acl, 'devices/x/y', 0, false, 1), false);
  }
  // An empty mountpoint is the normal default and stays a (empty) level.
  const { acl } = compileAcl([{ pattern: '%m/t' }], null, { mountpoint: '', clientId: 'c', username: 'u' });
  assert.equal(checkPublish(acl, '/t', 0, false, 1), true);
});

test('entries with modifiers or invalid fields are dropped with a warning (fail closed)', () => {
  const { acl, warnings } = compileAcl(
    [
      { pattern: 'a', modifiers: { topic: 'b' } },
      { pattern: 'b', max_qos: 3 },
      { pattern: 'c', max_payload_size: -1 },
      { pattern: 'd', allowed_retain: 'yes' },
      { pattern: 'e/#/f' },
      { nopattern: true },
      { pattern: 'ok', colour: 'blue' },
    ],
    [{ pattern: 's', modifiers: { qos: 0 } }],
    { mountpoint: '', clientId: 'c', username: 'u' },
  );
  assert.deepEqual(
    acl.publish.map((r) => r.pattern),
    ['ok'],
  );
  assert.equal(acl.subscribe.length, 0);
  assert.equal(warnings.length, 9, warnings.join('\n'));
  assert.ok(warnings.some((w) => w.includes('modifiers')));
});

test('a column that is not JSON or not an array is an error (CONNECT refused)', () => {
  const c = { mountpoint: '', clientId: 'c', username: 'u' };
  assert.throws(() => compileAcl('{not json', null, c), AclFormatError);
  assert.throws(() => compileAcl('{"pattern":"a"}', null, c), AclFormatError);
  assert.deepEqual(compileAcl('null', '[]', c).acl, { publish: [], subscribe: [] });
});

test('lintAclJson reports what compileAcl would drop', () => {
  assert.deepEqual(lintAclJson([{ pattern: 'devices/%c/#', max_qos: 1 }], 'publish'), []);
  assert.equal(lintAclJson([{ pattern: 'a', max_payload_size: 10 }], 'subscribe').length, 1, 'max_payload_size is publish-only');
  assert.equal(lintAclJson({ pattern: 'a' }, 'publish').length, 1);
});
