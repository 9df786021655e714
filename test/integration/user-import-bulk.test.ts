import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runUserCommand } from '../../auth-service/src/cli/user-command.js';
import { loadConfig } from '../../common/src/config/load-config.js';
import type { Config } from '../../common/src/config/settings.js';
import { startAuthHarness } from '../support/auth-harness.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { shardmqCli } from '../support/shardmq-cli.js';
import { applyVmqMigration } from '../support/vmq-db.js';

/**
 * `shardmq user import`: tens of thousands of devices from CSV, JSON with ACLs and mountpoints,
 * a bad file writing nothing, reruns skipping or (--update) replacing, against a real PostgreSQL,
 * and the imported devices authenticating through the auth service.
 */

// 4,000 in every run (batches of 500: eight batches, so progress shows); the fleet-sized run by hand:
// USER_IMPORT_TEST_USERS=20000 npm test -- user-import-bulk
const USERS = Number(process.env.USER_IMPORT_TEST_USERS ?? 4000);

let db: PostgresHandle;
let config: Config;
let dir: string;

before(async () => {
  db = await startPostgres();
  await applyVmqMigration(db);
  config = loadConfig({ env: { SHARDMQ_AUTH_DATABASE_URL: db.url } });
  dir = mkdtempSync(join(tmpdir(), 'shardmq-import-'));
});

after(async () => {
  await db?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function user(...args: string[]): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const code = await runUserCommand(args, config, (l) => out.push(l));
  return { code, out };
}

const count = async (where = 'TRUE') => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM vmq_auth_acl WHERE ${where}`)).rows[0]!.n);

async function auth(clientId: string, username: string, password: string, mountpoint = ''): Promise<string> {
  const h = await startAuthHarness({ SHARDMQ_AUTH_DATABASE_URL: db.url, SHARDMQ_AUTH_PASSWORD_METHOD: 'crypt' });
  try {
    return (await h.connect({ clientId, username, password, mountpoint })).result;
  } finally {
    await h.close();
  }
}

test(`a CSV of ${USERS} devices is imported in batches with progress output, through the real CLI`, async () => {
  const lines = ['username,password,client_id,publish_acl'];
  for (let i = 0; i < USERS; i++) lines.push(`dev-${i},pw-${i},dev-${i},"[{""pattern"":""devices/%c/#""}]"`);
  const file = join(dir, 'fleet.csv');
  writeFileSync(file, lines.join('\r\n') + '\r\n');
  const r = await shardmqCli(['user', 'import', file, '--cost', '4', '--batch-size', String(Math.max(1, Math.floor(USERS / 8)))], { SHARDMQ_AUTH_DATABASE_URL: db.url }, 240_000);
  assert.equal(r.code, 0, r.out);
  assert.match(r.stdout, new RegExp(`^importing ${USERS} users from .*fleet\\.csv`, 'm'));
  assert.match(r.stdout, new RegExp(`^progress: \\d+/${USERS} `, 'm'), 'progress while it runs');
  assert.match(r.stdout, new RegExp(`^done: ${USERS}/${USERS} \\(100%\\), ${USERS} added, 0 skipped as existing`, 'm'));
  assert.equal(await count("username LIKE 'dev-%'"), USERS);
  const row = (
    await db.query<{ ok: boolean; password: string; publish_acl: unknown }>("SELECT password = crypt('pw-1234', password) AS ok, password, publish_acl FROM vmq_auth_acl WHERE username = 'dev-1234'")
  ).rows[0]!;
  assert.equal(row.ok, true);
  assert.match(row.password, /^\$2a\$04\$/);
  assert.deepEqual(row.publish_acl, [{ pattern: 'devices/%c/#' }]);
  assert.equal(await auth('dev-777', 'dev-777', 'pw-777'), 'ok');
  assert.equal(await auth('dev-777', 'dev-777', 'pw-778'), 'bad-credentials');
});

test('a rerun skips existing users; --update replaces their password and ACLs', async () => {
  const file = join(dir, 'some.json');
  writeFileSync(
    file,
    JSON.stringify([
      { username: 'dev-1', password: 'changed', clientId: 'dev-1', subscribeAcl: [{ pattern: 'cmd/%c' }] },
      { username: 'tenant-dev', password: 'tpw', clientId: 'tdev', mountpoint: 'tenantA' },
    ]),
  );
  const skip = await user('import', file, '--cost', '4');
  assert.equal(skip.code, 0, skip.out.join('\n'));
  assert.ok(
    skip.out.some((l) => /^done: 2\/2 \(100%\), 1 added, 1 skipped as existing/.test(l)),
    skip.out.join('\n'),
  );
  assert.equal(await auth('dev-1', 'dev-1', 'pw-1'), 'ok', 'not replaced without --update');
  assert.equal(await auth('tdev', 'tenant-dev', 'tpw', 'tenantA'), 'ok');
  const upd = await user('import', file, '--cost', '4', '--update');
  assert.equal(upd.code, 0, upd.out.join('\n'));
  assert.equal(await auth('dev-1', 'dev-1', 'changed'), 'ok');
  const acl = (await db.query<{ subscribe_acl: unknown }>("SELECT subscribe_acl FROM vmq_auth_acl WHERE username = 'dev-1'")).rows[0]!;
  assert.deepEqual(acl.subscribe_acl, [{ pattern: 'cmd/%c' }]);
});

test('a file with bad rows writes nothing and names each problem with its line', async () => {
  const before = await count();
  const file = join(dir, 'bad.csv');
  writeFileSync(file, ['username,password,mountpoint,publish_acl', 'ok-1,pw,,', ',pw,,', 'ok-2,,,', 'ok-3,pw,waytoolongmountpoint,', 'ok-4,pw,,"[{""max_qos"":1}]"', 'ok-1,pw,,'].join('\n'));
  const r = await user('import', file, '--cost', '4');
  assert.equal(r.code, 1);
  const text = r.out.join('\n');
  assert.match(text, /line 3: username is required/);
  assert.match(text, /line 4: password is required/);
  assert.match(text, /line 5: mountpoint longer than 10/);
  assert.match(text, /line 6: publishAcl/);
  assert.match(text, /line 7: user "ok-1" .* appears twice/);
  assert.equal(await count(), before);
  assert.equal((await user('import', join(dir, 'missing.csv'))).code, 1);
  assert.equal((await user('import', join(dir, 'file.txt'))).code, 2);
  assert.equal((await user('import')).code, 2);
});
