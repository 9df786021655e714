import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PgCluster } from '../../auth-service/src/db/pg-cluster.js';
import { resolveDbOptions } from '../../auth-service/src/db/connection-options.js';
import { loadConfig } from '../../common/src/config/load-config.js';
import { silentLogger } from '../../common/src/log.js';
import { startAuthHarness } from '../support/auth-harness.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { issueCert, makeTestCerts, type TestCerts } from '../support/tls-certs.js';
import { applyVmqMigration, insertVmqUser } from '../support/vmq-db.js';

// TLS to PostgreSQL with a self-signed CA. `db` accepts only TLS with a client certificate;
// `otherNameDb` presents a certificate for another host name (verify-full must refuse it).
let certs: TestCerts;
let db: PostgresHandle;
let otherNameDb: PostgresHandle;

before(async () => {
  certs = await makeTestCerts({ clientCn: 'shardmq' });
  db = await startPostgres({
    tls: {
      certFile: certs.serverCertFile,
      keyFile: certs.serverKeyFile,
      caFile: certs.caFile,
      requireClientCert: true,
      clientCertFile: certs.clientCertFile,
      clientKeyFile: certs.clientKeyFile,
    },
  });
  const wrongName = await issueCert(certs, 'wrong-name', { cn: 'db.example.invalid', san: ['DNS:db.example.invalid'] });
  otherNameDb = await startPostgres({ tls: { certFile: wrongName.certFile, keyFile: wrongName.keyFile } });
  for (const d of [db, otherNameDb]) {
    await applyVmqMigration(d);
    await insertVmqUser(d, { clientId: 'c1', username: 'dev', password: 'pw', publishAcl: [{ pattern: '#' }] });
  }
});

after(async () => {
  await db?.destroy();
  await otherNameDb?.destroy();
  await certs?.cleanup();
});

const tlsEnv = (extra: Record<string, string> = {}) => ({
  SHARDMQ_AUTH_DATABASE_URL: db.url,
  SHARDMQ_AUTH_SSL_MODE: 'verify-full',
  SHARDMQ_AUTH_SSL_CA_FILE: certs.caFile,
  SHARDMQ_AUTH_SSL_CERT_FILE: certs.clientCertFile,
  SHARDMQ_AUTH_SSL_KEY_FILE: certs.clientKeyFile,
  ...extra,
});

test('verify-full with the right CA and a client certificate authenticates devices', async () => {
  const h = await startAuthHarness(tlsEnv());
  try {
    assert.equal((await h.connect({ clientId: 'c1', username: 'dev', password: 'pw' })).result, 'ok');
    assert.equal(h.service.ready(), true);
  } finally {
    await h.close();
  }
});

test('sslmode=verify-full inside the URL does not drop the CA given as a setting (pg pitfall)', async () => {
  const h = await startAuthHarness(tlsEnv({ SHARDMQ_AUTH_DATABASE_URL: `${db.url}?sslmode=verify-full`, SHARDMQ_AUTH_SSL_MODE: '' }));
  try {
    assert.equal((await h.connect({ clientId: 'c1', username: 'dev', password: 'pw' })).result, 'ok');
  } finally {
    await h.close();
  }
});

test('a wrong CA is refused with a clear certificate error, and devices get "unavailable"', async () => {
  const h = await startAuthHarness(tlsEnv({ SHARDMQ_AUTH_SSL_CA_FILE: certs.otherCaFile }));
  try {
    const r = await h.connect({ clientId: 'c1', username: 'dev', password: 'pw' });
    assert.equal(r.result, 'unavailable');
    assert.equal(h.service.ready(), false);
    const line = h.logs.find((l) => l.includes('auth database host failed'));
    assert.ok(line, h.logs.join(''));
    const rec = JSON.parse(line);
    assert.equal(rec.level, 'error');
    assert.equal(rec.kind, 'tls');
    assert.match(rec.error, /certificate/i);
  } finally {
    await h.close();
  }
});

test('without the client certificate the TLS-only server refuses the connection', async () => {
  const h = await startAuthHarness(tlsEnv({ SHARDMQ_AUTH_SSL_CERT_FILE: '', SHARDMQ_AUTH_SSL_KEY_FILE: '' }));
  try {
    assert.equal((await h.connect({ clientId: 'c1', username: 'dev', password: 'pw' })).result, 'unavailable');
  } finally {
    await h.close();
  }
});

test('verify-full checks the host name: a certificate for another name is refused, verify-ca accepts it', async () => {
  const base = { SHARDMQ_AUTH_DATABASE_URL: otherNameDb.url, SHARDMQ_AUTH_SSL_CA_FILE: certs.caFile };
  const full = new PgCluster(resolveDbOptions(loadConfig({ env: { ...base, SHARDMQ_AUTH_SSL_MODE: 'verify-full' } })), { log: silentLogger });
  try {
    await assert.rejects(full.query('SELECT 1'), /does not match|altnames/i);
  } finally {
    await full.end();
  }
  const h = await startAuthHarness({ ...base, SHARDMQ_AUTH_SSL_MODE: 'verify-ca' });
  try {
    assert.equal((await h.connect({ clientId: 'c1', username: 'dev', password: 'pw' })).result, 'ok');
  } finally {
    await h.close();
  }
});

test('sslmode=disable cannot reach a TLS-only server', async () => {
  const h = await startAuthHarness({ SHARDMQ_AUTH_DATABASE_URL: db.url, SHARDMQ_AUTH_SSL_MODE: 'disable' });
  try {
    assert.equal((await h.connect({ clientId: 'c1', username: 'dev', password: 'pw' })).result, 'unavailable');
  } finally {
    await h.close();
  }
});
