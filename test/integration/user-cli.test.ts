import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runUserCommand } from '../../auth-service/src/cli/user-command.js';
import { checkPublish, checkSubscribe } from '../../common/src/acl/check-acl.js';
import { loadConfig } from '../../common/src/config/load-config.js';
import type { Config } from '../../common/src/config/settings.js';
import { startAuthHarness } from '../support/auth-harness.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration } from '../support/vmq-db.js';

let db: PostgresHandle;
let config: Config;

before(async () => {
  db = await startPostgres();
  await applyVmqMigration(db);
  config = loadConfig({ env: { SHARDMQ_AUTH_DATABASE_URL: db.url } });
});

after(async () => {
  await db?.destroy();
});

async function user(...args: string[]): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const code = await runUserCommand(args, config, (l) => out.push(l));
  return { code, out };
}

async function authAll(username: string, password: string, clientId = 'dev-1') {
  const results: string[] = [];
  for (const method of ['crypt', 'bcrypt']) {
    const h = await startAuthHarness({ SHARDMQ_AUTH_DATABASE_URL: db.url, SHARDMQ_AUTH_PASSWORD_METHOD: method, SHARDMQ_AUTH_BCRYPT_WORKERS: '1' });
    try {
      results.push((await h.connect({ clientId, username, password })).result);
    } finally {
      await h.close();
    }
  }
  return results;
}

test('user add writes a $2a$ hash that pgcrypto crypt() and the bcrypt method both verify', async () => {
  const r = await user('add', 'alice', '--password', 's3cret', '--client-id', 'dev-1', '--publish-acl', '[{"pattern":"devices/%c/#","max_qos":1}]', '--subscribe-acl', '[{"pattern":"cmd/%c"}]');
  assert.equal(r.code, 0, r.out.join('\n'));
  const row = (await db.query<{ password: string; ok: boolean }>("SELECT password, password = crypt('s3cret', password) AS ok FROM vmq_auth_acl WHERE username='alice'")).rows[0]!;
  assert.match(row.password, /^\$2a\$08\$/);
  assert.equal(row.ok, true);
  assert.deepEqual(await authAll('alice', 's3cret'), ['ok', 'ok']);
  assert.deepEqual(await authAll('alice', 'wrong'), ['bad-credentials', 'bad-credentials']);
});

test('user add refuses duplicates; user list shows rows without hashes', async () => {
  assert.equal((await user('add', 'alice', '--password', 'x', '--client-id', 'dev-1')).code, 1);
  assert.equal((await user('add', 'bob', '--password', 'x', '--mountpoint', 'mp2')).code, 0);
  const list = await user('list');
  assert.equal(list.code, 0);
  const rows = list.out.map((l) => JSON.parse(l));
  assert.deepEqual(
    rows.map((r) => [r.mountpoint, r.clientId, r.username]),
    [
      ['', 'dev-1', 'alice'],
      ['mp2', '*', 'bob'],
    ],
  );
  assert.equal(rows[0].hash, '$2a$08$');
  assert.ok(!list.out.join('').includes(((await db.query("SELECT password FROM vmq_auth_acl WHERE username='alice'")).rows[0] as { password: string }).password));
  assert.deepEqual(
    (await user('list', '--mountpoint', 'mp2')).out.map((l) => JSON.parse(l).username),
    ['bob'],
  );
});

test('user passwd and user acl change what the service answers', async () => {
  assert.equal((await user('passwd', 'alice', '--client-id', 'dev-1', '--password', 'n3w', '--cost', '6')).code, 0);
  assert.deepEqual(await authAll('alice', 'n3w'), ['ok', 'ok']);
  assert.deepEqual(await authAll('alice', 's3cret'), ['bad-credentials', 'bad-credentials']);

  assert.equal((await user('acl', 'alice', '--client-id', 'dev-1', '--publish-acl', '[{"pattern":"other/#"}]')).code, 0);
  const h = await startAuthHarness({ SHARDMQ_AUTH_DATABASE_URL: db.url });
  try {
    const r = await h.connect({ clientId: 'dev-1', username: 'alice', password: 'n3w' });
    assert.equal(checkPublish(r.acl, 'other/x', 0, false, 1), true);
    assert.equal(checkPublish(r.acl, 'devices/dev-1/x', 0, false, 1), false);
    assert.equal(checkSubscribe(r.acl, 'cmd/dev-1', 0), true, 'subscribe ACL untouched');
  } finally {
    await h.close();
  }
});

test('user del removes the user; unknown users and bad input give exit codes 1 and 2', async () => {
  assert.equal((await user('del', 'alice', '--client-id', 'dev-1')).code, 0);
  assert.deepEqual(await authAll('alice', 'n3w'), ['bad-credentials', 'bad-credentials']);
  assert.equal((await user('del', 'alice', '--client-id', 'dev-1')).code, 1);
  assert.equal((await user('passwd', 'ghost', '--password', 'x')).code, 1);
  assert.equal((await user('frobnicate')).code, 2);
  assert.equal((await user('add', 'carol')).code, 2, 'password required');
  const badAcl = await user('add', 'carol', '--password', 'x', '--publish-acl', '[{"pattern":"a/#/b"}]');
  assert.equal(badAcl.code, 2);
  assert.match(badAcl.out[0]!, /not a valid topic filter/);
  assert.equal((await user('acl', 'bob', '--mountpoint', 'mp2', '--publish-acl', '{oops')).code, 2);
  const noDb = await runUserCommand(['list'], loadConfig({ env: {} }), () => {});
  assert.equal(noDb, 2);
});
