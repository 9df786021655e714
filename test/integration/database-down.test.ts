import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, metricValue, startAuthHarness, type AuthHarness } from '../support/auth-harness.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration, insertVmqUser } from '../support/vmq-db.js';

// The database goes away: recently verified devices keep connecting (bounded), everyone else gets
// "server unavailable" (never "bad password"), and the service recovers by itself.
let db: PostgresHandle;
let stale: AuthHarness;
let strict: AuthHarness;

before(async () => {
  db = await startPostgres();
  await applyVmqMigration(db);
  await insertVmqUser(db, { username: 'known', password: 'pw-known', publishAcl: [{ pattern: 'k/#' }] });
  await insertVmqUser(db, { username: 'later', password: 'pw-later', publishAcl: [{ pattern: 'l/#' }] });
  const common = {
    SHARDMQ_AUTH_DATABASE_URL: db.url,
    SHARDMQ_AUTH_CACHE_TTL_MS: '0',
    SHARDMQ_AUTH_HEALTH_CHECK_INTERVAL_MS: '200',
    SHARDMQ_AUTH_HOST_RETRY_MS: '200',
    SHARDMQ_AUTH_CONNECT_TIMEOUT_MS: '2000',
  };
  stale = await startAuthHarness({ ...common, SHARDMQ_AUTH_STALE_WHILE_DOWN_MS: '600000' });
  strict = await startAuthHarness({ ...common, SHARDMQ_AUTH_STALE_WHILE_DOWN_MS: '0' });
});

after(async () => {
  await stale?.close();
  await strict?.close();
  await db?.destroy();
});

test('database down: recent credentials served from cache, unknown ones refused as unavailable, then recovery', async () => {
  const known = { clientId: 'c', username: 'known', password: 'pw-known' };
  assert.equal((await stale.connect(known)).result, 'ok');
  assert.equal((await strict.connect(known)).result, 'ok');

  await db.stop();

  const served = await stale.connect(known);
  assert.equal(served.result, 'ok', 'verified a moment ago: served while the database is down');
  assert.equal(served.acl?.publish[0]?.pattern, 'k/#');
  assert.ok((await metricValue(stale.metrics, 'shardmq_auth_cache_hits_total', { kind: 'stale' })) >= 1);

  const strictAnswer = await strict.connect(known);
  assert.equal(strictAnswer.result, 'unavailable', 'staleWhileDownMs=0 serves nothing from cache');

  for (const c of [
    { clientId: 'c', username: 'later', password: 'pw-later' },
    { clientId: 'c', username: 'known', password: 'not-the-password' },
    { clientId: 'c', username: 'nobody', password: 'x' },
  ]) {
    const r = await stale.connect(c);
    assert.equal(r.result, 'unavailable', `${c.username}: unknown credentials are unavailable, not bad credentials`);
    assert.match(r.reason ?? '', /unavailable/);
  }
  assert.ok((await metricValue(stale.metrics, 'shardmq_auth_db_errors_total')) >= 1);
  assert.ok((await metricValue(stale.metrics, 'shardmq_auth_requests_total', { result: 'unavailable' })) >= 3);
  await eventually('service reports not ready', async () => !stale.service.ready());
  assert.ok(stale.logs.some((l) => l.includes('auth database unreachable')));

  await db.start();

  await eventually('database back: unknown credentials verified again', async () => (await stale.connect({ clientId: 'c', username: 'later', password: 'pw-later' })).result === 'ok');
  assert.equal((await stale.connect({ clientId: 'c', username: 'known', password: 'not-the-password' })).result, 'bad-credentials');
  await eventually('service ready again', async () => stale.service.ready());
  assert.equal((await strict.connect(known)).result, 'ok');
  assert.equal(await metricValue(stale.metrics, 'shardmq_auth_db_up'), 1);
});
