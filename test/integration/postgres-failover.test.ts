import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { resolveDbOptions } from '../../auth-service/src/db/connection-options.js';
import { DatabaseUnavailableError, PgCluster } from '../../auth-service/src/db/pg-cluster.js';
import { loadConfig } from '../../common/src/config/load-config.js';
import { silentLogger } from '../../common/src/log.js';
import { eventually, startAuthHarness } from '../support/auth-harness.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration, insertVmqUser } from '../support/vmq-db.js';

// Two PostgreSQL servers with the same users, both named in one multi-host connection string.
let first: PostgresHandle;
let second: PostgresHandle;
let url: string;

before(async () => {
  // Same credentials on both, as replicas would have.
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  [first, second] = await Promise.all([startPostgres({ password }), startPostgres({ password })]);
  for (const d of [first, second]) {
    await applyVmqMigration(d);
    for (let i = 0; i < 3; i++) await insertVmqUser(d, { username: `dev${i}`, password: `pw${i}`, publishAcl: [{ pattern: '#' }] });
  }
  url = `postgres://${first.user}:${encodeURIComponent(first.password)}@127.0.0.1:${first.port},127.0.0.1:${second.port}/${first.database}`;
});

after(async () => {
  await first?.destroy();
  await second?.destroy();
});

test('with the first host stopped, devices still authenticate through the second', async () => {
  const h = await startAuthHarness({ SHARDMQ_AUTH_DATABASE_URL: url, SHARDMQ_AUTH_CACHE_TTL_MS: '0', SHARDMQ_AUTH_HOST_RETRY_MS: '60000' });
  try {
    assert.equal((await h.connect({ clientId: 'a', username: 'dev0', password: 'pw0' })).result, 'ok');
    await first.stop();
    // Not cached (TTL 0), never seen before: must come from the second host.
    assert.equal((await h.connect({ clientId: 'b', username: 'dev1', password: 'pw1' })).result, 'ok');
    assert.equal((await h.connect({ clientId: 'b', username: 'dev1', password: 'wrong' })).result, 'bad-credentials');
    assert.ok(h.logs.some((l) => l.includes('auth database host failed') && l.includes(String(first.port))));
    assert.equal(h.service.ready(), true);
  } finally {
    await h.close();
    await first.start();
  }
});

test('a service started while the first host is down uses the second from the start', async () => {
  await first.stop();
  const h = await startAuthHarness({ SHARDMQ_AUTH_DATABASE_URL: url });
  try {
    assert.equal((await h.connect({ clientId: 'c', username: 'dev2', password: 'pw2' })).result, 'ok');
  } finally {
    await h.close();
    await first.start();
  }
});

test('hosts are tried in order: after the first host restarts, queries go back to it', async () => {
  const cluster = new PgCluster(resolveDbOptions(loadConfig({ env: { SHARDMQ_AUTH_DATABASE_URL: url, SHARDMQ_AUTH_HOST_RETRY_MS: '100' } })), { log: silentLogger });
  const port = async () => (await cluster.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!.port;
  try {
    assert.equal(await port(), first.port);
    await first.stop();
    assert.equal(await port(), second.port);
    await first.start();
    await eventually('first host serves again', async () => (await port()) === first.port);
  } finally {
    await cluster.end();
  }
});

test('target_session_attrs=read-only refuses two primaries with a message naming the role', async () => {
  const cluster = new PgCluster(resolveDbOptions(loadConfig({ env: { SHARDMQ_AUTH_DATABASE_URL: `${url}?target_session_attrs=read-only` } })), { log: silentLogger });
  try {
    await assert.rejects(cluster.query('SELECT 1'), (e: Error) => e instanceof DatabaseUnavailableError && /is a primary, read-only wanted/.test(e.message));
    // ...while a read-write request on the same cluster is served.
    assert.equal((await cluster.query('SELECT 1 AS one', [], 'read-write')).rows[0]!.one, 1);
  } finally {
    await cluster.end();
  }
});
