import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startAuthHarness, type AuthHarness } from '../support/auth-harness.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration, insertVmqHash, insertVmqUser } from '../support/vmq-db.js';

// Method bcrypt: the hash is fetched and verified in worker threads, accepting $2a$ $2b$ $2y$ $2x$.
let db: PostgresHandle;
let h: AuthHarness;
const acl = [{ pattern: '#' }];

before(async () => {
  db = await startPostgres();
  await applyVmqMigration(db);
  const b = bcrypt.hashSync('pw-b', 6); // bcryptjs writes $2b$
  assert.ok(b.startsWith('$2b$'));
  await insertVmqHash(db, { username: 'b-user', hash: b, publishAcl: acl });
  const y = '$2y$' + bcrypt.hashSync('pw-y', 6).slice(4); // what PHP's password_hash writes
  await insertVmqHash(db, { username: 'y-user', hash: y, publishAcl: acl });
  await insertVmqHash(db, { username: 'x-user', hash: '$2x$' + bcrypt.hashSync('pw-x', 6).slice(4), publishAcl: acl });
  await insertVmqUser(db, { username: 'a-user', password: 'pw-a', publishAcl: acl }); // pgcrypto $2a$
  await insertVmqHash(db, { username: 'null-user', hash: null as unknown as string, publishAcl: acl });
  h = await startAuthHarness({ SHARDMQ_AUTH_DATABASE_URL: db.url, SHARDMQ_AUTH_PASSWORD_METHOD: 'bcrypt', SHARDMQ_AUTH_BCRYPT_WORKERS: '2' });
});

after(async () => {
  await h?.close();
  await db?.destroy();
});

test('$2b$ (bcryptjs), $2y$ (PHP), $2x$ and pgcrypto $2a$ hashes authenticate in bcrypt mode', async () => {
  for (const [username, password] of [
    ['b-user', 'pw-b'],
    ['y-user', 'pw-y'],
    ['x-user', 'pw-x'],
    ['a-user', 'pw-a'],
  ]) {
    const r = await h.connect({ clientId: `c-${username}`, username, password });
    assert.equal(r.result, 'ok', username);
    assert.equal(r.acl?.publish.length, 1);
  }
});

test('wrong passwords and NULL password columns are bad credentials in bcrypt mode', async () => {
  for (const [username, password] of [
    ['b-user', 'pw-y'],
    ['y-user', 'nope'],
    ['a-user', ''],
    ['null-user', 'anything'],
  ]) {
    assert.equal((await h.connect({ clientId: 'c', username, password })).result, 'bad-credentials', username);
  }
});

test('in crypt mode pgcrypto cannot verify $2b$/$2y$ (FACTS: falls back to DES), only $2a$', async () => {
  const crypt = await startAuthHarness({ SHARDMQ_AUTH_DATABASE_URL: db.url });
  try {
    assert.equal((await crypt.connect({ clientId: 'c', username: 'a-user', password: 'pw-a' })).result, 'ok');
    assert.equal((await crypt.connect({ clientId: 'c', username: 'b-user', password: 'pw-b' })).result, 'bad-credentials');
  } finally {
    await crypt.close();
  }
});
