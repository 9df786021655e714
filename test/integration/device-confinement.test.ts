import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkPublish, checkSubscribe } from '../../common/src/acl/check-acl.js';
import { startAuthHarness, type AuthHarness } from '../support/auth-harness.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration, insertVmqUser } from '../support/vmq-db.js';

// One '*' row shared by a whole fleet; %c and %u keep every device on its own topics.
let db: PostgresHandle;
let h: AuthHarness;

before(async () => {
  db = await startPostgres();
  await applyVmqMigration(db);
  await insertVmqUser(db, {
    username: 'fleet',
    password: 'fleet-pw',
    publishAcl: [
      { pattern: 'devices/%c/up/#', max_qos: 1 },
      { pattern: 'users/%u/%c', allowed_retain: false },
    ],
    subscribeAcl: [{ pattern: 'devices/%c/down/#' }],
  });
  h = await startAuthHarness({ SHARDMQ_AUTH_DATABASE_URL: db.url });
});

after(async () => {
  await h?.close();
  await db?.destroy();
});

test('%c and %u patterns confine each device to its own topics', async () => {
  const a = await h.connect({ clientId: 'dev-a', username: 'fleet', password: 'fleet-pw' });
  const b = await h.connect({ clientId: 'dev-b', username: 'fleet', password: 'fleet-pw' });
  assert.equal(a.result, 'ok');
  assert.equal(b.result, 'ok');
  assert.equal(checkPublish(a.acl, 'devices/dev-a/up/temp', 1, false, 4), true);
  assert.equal(checkPublish(a.acl, 'devices/dev-b/up/temp', 1, false, 4), false);
  assert.equal(checkPublish(a.acl, 'devices/dev-a/up/temp', 2, false, 4), false, 'max_qos 1');
  assert.equal(checkPublish(b.acl, 'users/fleet/dev-b', 0, false, 4), true);
  assert.equal(checkPublish(b.acl, 'users/fleet/dev-b', 0, true, 4), false, 'allowed_retain false');
  assert.equal(checkPublish(b.acl, 'users/fleet/dev-a', 0, false, 4), false);
  assert.equal(checkSubscribe(a.acl, 'devices/dev-a/down/#', 1), true);
  assert.equal(checkSubscribe(a.acl, 'devices/+/down/#', 1), false);
  assert.equal(checkSubscribe(b.acl, 'devices/dev-a/down/cmd', 1), false);
});

test('a client id that is a wildcard gets no access through %c', async () => {
  const r = await h.connect({ clientId: '#', username: 'fleet', password: 'fleet-pw' });
  assert.equal(r.result, 'ok');
  assert.equal(checkPublish(r.acl, 'devices/x/up/t', 0, false, 1), false);
  assert.equal(checkSubscribe(r.acl, 'devices/#', 0), false);
});
