import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkPublish } from '../../common/src/acl/check-acl.js';
import { startAuthHarness, type AuthHarness } from '../support/auth-harness.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration, insertVmqUser } from '../support/vmq-db.js';

// Tenants under different mountpoints: same user name, different passwords and ACLs; credentials
// of one never work on the other's listener. (Topic isolation between mountpoints on the message
// path is the gateway/router's prefixing; here: the auth side of it.)
let db: PostgresHandle;
let h: AuthHarness;

before(async () => {
  db = await startPostgres();
  await applyVmqMigration(db);
  await insertVmqUser(db, { mountpoint: 'tenant-a', username: 'ops', password: 'pw-a', publishAcl: [{ pattern: '%m/data/#' }] });
  await insertVmqUser(db, { mountpoint: 'tenant-b', username: 'ops', password: 'pw-b', publishAcl: [{ pattern: '%m/data/#' }] });
  h = await startAuthHarness({ SHARDMQ_AUTH_DATABASE_URL: db.url });
});

after(async () => {
  await h?.close();
  await db?.destroy();
});

test('each tenant authenticates only on its own mountpoint', async () => {
  assert.equal((await h.connect({ mountpoint: 'tenant-a', clientId: 'c', username: 'ops', password: 'pw-a' })).result, 'ok');
  assert.equal((await h.connect({ mountpoint: 'tenant-b', clientId: 'c', username: 'ops', password: 'pw-b' })).result, 'ok');
  assert.equal((await h.connect({ mountpoint: 'tenant-b', clientId: 'c', username: 'ops', password: 'pw-a' })).result, 'bad-credentials');
  assert.equal((await h.connect({ mountpoint: 'tenant-a', clientId: 'c', username: 'ops', password: 'pw-b' })).result, 'bad-credentials');
  assert.equal((await h.connect({ mountpoint: '', clientId: 'c', username: 'ops', password: 'pw-a' })).result, 'bad-credentials');
});

test('%m gives each tenant its own topic space in the ACL', async () => {
  const a = await h.connect({ mountpoint: 'tenant-a', clientId: 'c', username: 'ops', password: 'pw-a' });
  const b = await h.connect({ mountpoint: 'tenant-b', clientId: 'c', username: 'ops', password: 'pw-b' });
  assert.equal(checkPublish(a.acl, 'tenant-a/data/x', 0, false, 1), true);
  assert.equal(checkPublish(a.acl, 'tenant-b/data/x', 0, false, 1), false);
  assert.equal(checkPublish(b.acl, 'tenant-b/data/x', 0, false, 1), true);
  assert.equal(checkPublish(b.acl, 'tenant-a/data/x', 0, false, 1), false);
});
