import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CredentialCache } from '../../auth-service/src/cache/credential-cache.js';

function cache(o: Partial<{ ttlMs: number; negativeTtlMs: number; staleMs: number; maxEntries: number }> = {}) {
  let now = 1_000_000;
  const c = new CredentialCache({ ttlMs: 1000, negativeTtlMs: 100, staleMs: 10_000, maxEntries: 3, ...o, now: () => now });
  return { c, advance: (ms: number) => (now += ms) };
}
const acl = { publish: [], subscribe: [] };

test('keys depend on every field and never contain the password', () => {
  const { c } = cache();
  const pw = Buffer.from('hunter2-very-secret');
  const k = c.key('', 'c', 'u', pw);
  assert.ok(!k.includes('hunter2'));
  assert.notEqual(k, c.key('', 'c', 'u', Buffer.from('hunter3-very-secret')));
  assert.notEqual(k, c.key('', 'c2', 'u', pw));
  assert.notEqual(c.key('a', 'bc', 'u', pw), c.key('ab', 'c', 'u', pw), 'fields are length-prefixed');
  assert.equal(k, c.key('', 'c', 'u', pw));
});

test('positive answers are fresh for ttlMs, then only usable as stale within staleMs', () => {
  const { c, advance } = cache();
  c.set('k', true, acl);
  assert.equal(c.get('k').kind, 'fresh');
  advance(1000);
  assert.equal(c.get('k').kind, 'miss');
  assert.ok(c.getStale('k'));
  advance(9000);
  assert.equal(c.getStale('k'), undefined);
});

test('negative answers are fresh for negativeTtlMs and never served as stale', () => {
  const { c, advance } = cache();
  c.set('bad', false, null);
  const hit = c.get('bad');
  assert.equal(hit.kind === 'fresh' && hit.entry.ok, false);
  assert.equal(c.getStale('bad'), undefined);
  advance(100);
  assert.equal(c.get('bad').kind, 'miss');
});

test('the cache is bounded: least recently used entries go first', () => {
  const { c } = cache();
  c.set('a', true, acl);
  c.set('b', true, acl);
  c.set('c', true, acl);
  c.get('a');
  c.set('d', true, acl);
  assert.equal(c.size, 3);
  assert.equal(c.get('b').kind, 'miss');
  assert.equal(c.get('a').kind, 'fresh');
  const off = cache({ maxEntries: 0 }).c;
  off.set('a', true, acl);
  assert.equal(off.size, 0);
});
