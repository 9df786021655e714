import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkPublish } from '../../common/src/acl/check-acl.js';
import { startAuthHarness } from '../support/auth-harness.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration, insertVmqUser } from '../support/vmq-db.js';

// VerneMQ's row choice: the row for the exact client id beats the '*' row; a '*' row serves any
// other client id. Checked with both password methods.
let db: PostgresHandle;

before(async () => {
  db = await startPostgres();
  await applyVmqMigration(db);
  await insertVmqUser(db, { clientId: '*', username: 'fleet', password: 'shared', publishAcl: [{ pattern: 'generic/#' }] });
  await insertVmqUser(db, { clientId: 'special', username: 'fleet', password: 'shared', publishAcl: [{ pattern: 'special/#' }] });
  await insertVmqUser(db, { clientId: 'own-pw', username: 'fleet', password: 'different', publishAcl: [{ pattern: 'own/#' }] });
});

after(async () => {
  await db?.destroy();
});

for (const method of ['crypt', 'bcrypt']) {
  test(`${method}: the exact client id row wins over the '*' row`, async () => {
    const h = await startAuthHarness({ SHARDMQ_AUTH_DATABASE_URL: db.url, SHARDMQ_AUTH_PASSWORD_METHOD: method, SHARDMQ_AUTH_BCRYPT_WORKERS: '1' });
    try {
      const special = await h.connect({ clientId: 'special', username: 'fleet', password: 'shared' });
      assert.equal(special.result, 'ok');
      assert.equal(checkPublish(special.acl, 'special/x', 0, false, 1), true);
      assert.equal(checkPublish(special.acl, 'generic/x', 0, false, 1), false);

      const other = await h.connect({ clientId: 'anything-else', username: 'fleet', password: 'shared' });
      assert.equal(other.result, 'ok');
      assert.equal(checkPublish(other.acl, 'generic/x', 0, false, 1), true);
      assert.equal(checkPublish(other.acl, 'special/x', 0, false, 1), false);

      // The exact row has its own password; both passwords lead to a row, as in VerneMQ.
      const own = await h.connect({ clientId: 'own-pw', username: 'fleet', password: 'different' });
      assert.equal(checkPublish(own.acl, 'own/x', 0, false, 1), true);
      const fallback = await h.connect({ clientId: 'own-pw', username: 'fleet', password: 'shared' });
      assert.equal(fallback.result, 'ok');
      assert.equal(checkPublish(fallback.acl, 'generic/x', 0, false, 1), true);
      assert.equal(checkPublish(fallback.acl, 'own/x', 0, false, 1), false);
    } finally {
      await h.close();
    }
  });
}
