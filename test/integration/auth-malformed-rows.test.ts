import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkPublish, checkSubscribe } from '../../common/src/acl/check-acl.js';
import { metricValue, startAuthHarness } from '../support/auth-harness.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration, insertVmqUser } from '../support/vmq-db.js';

// Auth database rows the service cannot use: each such client is refused (or, for single bad
// ACL entries, granted nothing through them), a warn line names the row by mountpoint, client
// id and user name without secrets, and the service keeps serving everyone else. Real
// PostgreSQL; both password methods. ACL text columns (a VerneMQ table created with TEXT
// instead of JSON) are the only way to store JSON that does not parse, so one table has them.

let db: PostgresHandle;
const SECRET = 'pw-Secret-1';

before(async () => {
  db = await startPostgres();
  await applyVmqMigration(db);
  await db.query(`CREATE TABLE acl_text (
    mountpoint character varying(10) NOT NULL, client_id character varying(128) NOT NULL, username character varying(128) NOT NULL,
    password character varying(128), publish_acl text, subscribe_acl text, PRIMARY KEY (mountpoint, client_id, username))`);
  const row = (table: string, username: string, pub: string | null, sub: string | null = null, password: string | null = SECRET) =>
    db.query(
      `INSERT INTO ${table} (mountpoint, client_id, username, password, publish_acl, subscribe_acl)
       VALUES ('', '*', $1, CASE WHEN $2::text IS NULL THEN NULL ELSE crypt($2::text, gen_salt('bf')) END, $3, $4)`,
      [username, password, pub, sub],
    );
  for (const table of ['vmq_auth_acl', 'acl_text']) {
    await row(table, 'not-array', '{"pattern": "a/#"}');
    await row(table, 'wrong-types', '[1, "x", null, {"pattern": 5}, {"pattern": "ok/#", "max_qos": "1"}, {"pattern": "good/#"}]', '[[], {"pattern": true}]');
    await row(table, 'null-password', '[{"pattern": "a/#"}]', null, null);
    await row(table, 'oversized', JSON.stringify([{ pattern: `${'x'.repeat(70_000)}/#` }, ...Array.from({ length: 5000 }, (_, i) => ({ pattern: `many/${i}` }))]));
    await row(table, 'good', '[{"pattern": "good/#"}]', '[{"pattern": "good/#"}]');
  }
  await row('acl_text', 'not-json', '{not json', '[');
  await insertVmqUser(db, { username: 'plain', password: SECRET, publishAcl: [{ pattern: 'plain/#' }] });
});

after(async () => {
  await db?.destroy();
});

for (const method of ['crypt', 'bcrypt'] as const) {
  for (const table of ['vmq_auth_acl', 'acl_text']) {
    test(`${method}, ${table}: unusable rows refuse only their client; the service keeps serving`, async () => {
      const h = await startAuthHarness({
        SHARDMQ_AUTH_DATABASE_URL: db.url,
        SHARDMQ_AUTH_PASSWORD_METHOD: method,
        SHARDMQ_AUTH_TABLE: table,
        SHARDMQ_AUTH_BCRYPT_WORKERS: '1',
        SHARDMQ_AUTH_CACHE_TTL_MS: '0',
        SHARDMQ_AUTH_NEGATIVE_CACHE_TTL_MS: '0',
      });
      try {
        const c = (username: string, clientId = 'dev-1', password = SECRET) => h.connect({ clientId, username, password });

        const notArray = await c('not-array');
        assert.equal(notArray.result, 'not-authorized');
        const warn = h.logs.find((l) => l.includes('ACL of user is malformed'));
        assert.ok(warn, 'a warn line for the row');
        const rec = JSON.parse(warn) as Record<string, unknown>;
        assert.equal(rec.level, 'warn');
        assert.deepEqual([rec.mountpoint, rec.clientId, rec.username], ['', '*', 'not-array']);
        assert.ok(!warn.includes(SECRET), 'no password in the log');

        if (table === 'acl_text') assert.equal((await c('not-json')).result, 'not-authorized');

        // Entries of the wrong type are dropped one by one; the valid one still works.
        const wrong = await c('wrong-types');
        assert.equal(wrong.result, 'ok');
        assert.equal(checkPublish(wrong.acl, 'good/x', 0, false, 1), true);
        assert.equal(checkPublish(wrong.acl, 'ok/x', 0, false, 1), false);
        assert.equal(checkSubscribe(wrong.acl, 'good/x', 0), false);

        assert.equal((await c('null-password')).result, 'bad-credentials');

        // A pattern longer than a topic may be is dropped; the thousands of others compile.
        const big = await c('oversized');
        assert.equal(big.result, 'ok');
        assert.equal(checkPublish(big.acl, 'many/4999', 0, false, 1), true);

        // Identities longer than the columns: compared, not errors (the '*' row serves any client
        // id; no row has a 300-character user name). U+0000 is refused before the database.
        assert.equal((await c('good', 'c'.repeat(300))).result, 'ok');
        assert.equal((await c('g'.repeat(300))).result, 'bad-credentials');
        assert.equal((await c('good', 'dev\u0000x')).result, 'bad-credentials');
        assert.equal((await c('good', 'dev-1', 'pw\u0000')).result, 'bad-credentials');
        assert.equal(await metricValue(h.metrics, 'shardmq_auth_db_errors_total'), 0, 'no database errors');

        const good = await c('good');
        assert.equal(good.result, 'ok');
        assert.equal(checkPublish(good.acl, 'good/1', 1, false, 1), true);
        assert.ok(h.service.ready());
      } finally {
        await h.close();
      }
    });
  }
}
