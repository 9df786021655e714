import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSubscribe, filterWithinPattern } from '../../common/src/acl/check-acl.js';
import { compileAcl } from '../../auth-service/src/acl/compile-acl.js';

const ctx = { mountpoint: '', clientId: 'c1', username: 'u1' };
const sub = (json: unknown) => compileAcl(null, JSON.stringify(json), ctx).acl;

test("VerneMQ's own cases: patterns a/+/c and c/#", () => {
  const acl = sub([{ pattern: 'a/+/c' }, { pattern: 'c/#' }]);
  assert.equal(checkSubscribe(acl, 'a/+/c', 1), true);
  assert.equal(checkSubscribe(acl, 'a/b/c', 1), true);
  assert.equal(checkSubscribe(acl, 'c/b/a', 1), true);
  assert.equal(checkSubscribe(acl, 'a/b/d', 1), false);
  assert.equal(checkSubscribe(acl, 'd/d/d', 1), false);
});

test('a filter is allowed only when the pattern covers every topic it can match', () => {
  const cases: [string, string, boolean][] = [
    ['#', '#', true],
    ['#', 'a/+/#', true],
    ['a/#', 'a', true],
    ['a/#', 'a/#', true],
    ['a/#', '#', false],
    ['a/+', 'a/#', false], // VerneMQ allowed this; it would deliver a/b/c
    ['+', '#', false], // VerneMQ allowed this too
    ['a/+', 'a/+', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/', true],
    ['a/+', 'a', false],
    ['a/b', 'a/+', false],
    ['a/b', 'a/b/c', false],
    ['a/b', 'a/b', true],
    ['a/+/c/#', 'a/x/c', true],
    ['a/+/c/#', 'a/+/c/d/+', true],
    ['+/+', '/x', true],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
  ];
  for (const [pattern, filter, want] of cases) {
    assert.equal(filterWithinPattern(pattern, filter), want, `pattern ${pattern} filter ${filter}`);
  }
});

test('max_qos of a subscribe entry refuses higher requested QoS', () => {
  const acl = sub([{ pattern: 'a/#', max_qos: 1 }]);
  assert.equal(checkSubscribe(acl, 'a/b', 1), true);
  assert.equal(checkSubscribe(acl, 'a/b', 2), false);
});

test('shared subscriptions: allowed by the inner filter or by a $share pattern', () => {
  const inner = sub([{ pattern: 'jobs/#' }]);
  assert.equal(checkSubscribe(inner, '$share/workers/jobs/x', 1), true);
  assert.equal(checkSubscribe(inner, '$share/workers/other', 1), false);
  const explicit = sub([{ pattern: '$share/workers/jobs/#' }]);
  assert.equal(checkSubscribe(explicit, '$share/workers/jobs/x', 1), true);
  assert.equal(checkSubscribe(explicit, '$share/thieves/jobs/x', 1), false);
  assert.equal(checkSubscribe(explicit, 'jobs/x', 1), false);
});

test('no ACL allows every subscription; an empty one none', () => {
  assert.equal(checkSubscribe(null, '#', 2), true);
  assert.equal(checkSubscribe(sub([]), 'a', 0), false);
});
