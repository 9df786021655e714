import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connackCodeFor } from '../../common/src/auth-contract/auth-protocol.js';
import { checkPublish, checkSubscribe } from '../../common/src/acl/check-acl.js';
import { metricValue, startAuthHarness, type AuthHarness } from '../support/auth-harness.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration } from '../support/vmq-db.js';

// Default method (crypt): PostgreSQL verifies with pgcrypto; users inserted exactly as VerneMQ documents.
let db: PostgresHandle;
let h: AuthHarness;

before(async () => {
  db = await startPostgres();
  await applyVmqMigration(db);
  // VerneMQ's documented statement, verbatim apart from the values.
  await db.query(`WITH x AS (
      SELECT
          ''::text AS mountpoint,
          'test-client'::text AS client_id,
          'test-user'::text AS username,
          '123'::text AS password,
          gen_salt('bf')::text AS salt,
          '[{"pattern": "a/b/c"}, {"pattern": "c/b/#"}]'::json AS publish_acl,
          '[{"pattern": "a/b/c"}, {"pattern": "c/b/#"}]'::json AS subscribe_acl
      )
  INSERT INTO vmq_auth_acl (mountpoint, client_id, username, password, publish_acl, subscribe_acl)
      SELECT x.mountpoint, x.client_id, x.username, crypt(x.password, x.salt), publish_acl, subscribe_acl
      FROM x`);
  h = await startAuthHarness({ SHARDMQ_AUTH_DATABASE_URL: db.url });
});

after(async () => {
  await h?.close();
  await db?.destroy();
});

test('a user inserted with crypt(password, gen_salt(bf)) authenticates and gets its ACL', async () => {
  const r = await h.connect({ clientId: 'test-client', username: 'test-user', password: '123' });
  assert.equal(r.result, 'ok');
  assert.ok(r.acl);
  assert.equal(checkPublish(r.acl, 'a/b/c', 1, false, 10), true);
  assert.equal(checkPublish(r.acl, 'c/b/x/y', 1, false, 10), true);
  assert.equal(checkPublish(r.acl, 'x/y', 1, false, 10), false, 'publish outside the ACL refused');
  assert.equal(checkSubscribe(r.acl, 'c/b/#', 1), true);
  assert.equal(checkSubscribe(r.acl, '#', 1), false, 'subscribe outside the ACL refused');
  assert.equal(await h.service.ready(), true);
});

test('wrong password, unknown user and other client ids are bad credentials', async () => {
  for (const c of [
    { clientId: 'test-client', username: 'test-user', password: '1234' },
    { clientId: 'test-client', username: 'nobody', password: '123' },
    { clientId: 'other-client', username: 'test-user', password: '123' },
    { clientId: 'test-client', username: 'test-user' },
  ]) {
    const r = await h.connect(c);
    assert.equal(r.result, 'bad-credentials', JSON.stringify(c));
    assert.equal(r.acl, null);
    assert.equal(connackCodeFor(r.result, 4), 0x04);
    assert.equal(connackCodeFor(r.result, 5), 0x86);
  }
  assert.ok((await metricValue(h.metrics, 'shardmq_auth_requests_total', { result: 'bad-credentials' })) >= 4);
});

test('with a database configured a CONNECT without user name is not authorized', async () => {
  const r = await h.connect({ clientId: 'anon' });
  assert.equal(r.result, 'not-authorized');
  assert.equal(connackCodeFor(r.result, 4), 0x05);
  assert.equal(connackCodeFor(r.result, 5), 0x87);
});

test('SHARDMQ_ALLOW_ANONYMOUS=true lets clients without user name in, without ACL; passwords still checked', async () => {
  const anon = await startAuthHarness({ SHARDMQ_AUTH_DATABASE_URL: db.url, SHARDMQ_ALLOW_ANONYMOUS: 'true' });
  try {
    assert.deepEqual(await anon.connect({ clientId: 'anon' }), { result: 'ok', acl: null });
    assert.equal((await anon.connect({ clientId: 'test-client', username: 'test-user', password: 'bad' })).result, 'bad-credentials');
  } finally {
    await anon.close();
  }
});

test('a repeated CONNECT is answered from the cache (no second verification)', async () => {
  const before = await metricValue(h.metrics, 'shardmq_auth_cache_hits_total', { kind: 'fresh' });
  assert.equal((await h.connect({ clientId: 'test-client', username: 'test-user', password: '123' })).result, 'ok');
  assert.equal((await h.connect({ clientId: 'test-client', username: 'test-user', password: '123' })).result, 'ok');
  assert.ok((await metricValue(h.metrics, 'shardmq_auth_cache_hits_total', { kind: 'fresh' })) > before);
});

test('without a database every client is accepted with no ACL, and a warning is logged', async () => {
  const open = await startAuthHarness({});
  try {
    assert.deepEqual(await open.connect({ clientId: 'x' }), { result: 'ok', acl: null });
    assert.ok(open.logs.some((l) => l.includes('"level":"warn"') && l.includes('no auth database configured')));
  } finally {
    await open.close();
  }
});
