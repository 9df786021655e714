import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../common/src/config/load-config.js';
import { databaseConfigured, resolveDbOptions } from '../../auth-service/src/db/connection-options.js';
import { parseHostList, parsePgUrl } from '../../auth-service/src/db/connection-string.js';

test('multi-host connection strings are parsed the libpq way', () => {
  const p = parsePgUrl('postgres://us%40er:p%3Ass@db1:5433,db2,[::1]:6000/vmq?sslmode=verify-full&target_session_attrs=read-write');
  assert.deepEqual(p.hosts, [
    { host: 'db1', port: 5433 },
    { host: 'db2', port: 5432 },
    { host: '::1', port: 6000 },
  ]);
  assert.equal(p.user, 'us@er');
  assert.equal(p.password, 'p:ss');
  assert.equal(p.database, 'vmq');
  assert.deepEqual(p.params, { sslmode: 'verify-full', target_session_attrs: 'read-write' });
  assert.throws(() => parsePgUrl('postgres://h/db?sslfoo=1'), /unsupported parameter "sslfoo"/);
  assert.throws(() => parseHostList('h:99999'), /bad port/);
});

test('the env var names operators use turn database auth on', () => {
  assert.equal(databaseConfigured(loadConfig({ env: {} })), false);
  const c = loadConfig({ env: { SHARDMQ_AUTH_DATABASE_URL: 'postgres://u:p@h1:5432,h2:5433/db', SHARDMQ_AUTH_PASSWORD_METHOD: 'bcrypt', SHARDMQ_ALLOW_ANONYMOUS: 'true' } });
  assert.equal(databaseConfigured(c), true);
  assert.equal(c['auth.passwordMethod'], 'bcrypt');
  assert.equal(c.allowAnonymous, true);
  assert.throws(() => loadConfig({ env: { SHARDMQ_AUTH_DATABASE_URL: 'mysql://h/db' } }), ConfigError);
  assert.throws(() => loadConfig({ env: { SHARDMQ_AUTH_PASSWORD_METHOD: 'md5' } }), ConfigError);
});

test('settings win over URL parameters, and ssl files are read here (never via the URL into pg)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shardmq-pgopt-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), 'CA-FROM-SETTING');
    writeFileSync(join(dir, 'url-ca.pem'), 'CA-FROM-URL');
    const fromUrl = resolveDbOptions(loadConfig({ env: { SHARDMQ_AUTH_DATABASE_URL: `postgres://u:p@h/db?sslmode=verify-full&sslrootcert=${join(dir, 'url-ca.pem')}` } }));
    assert.equal(fromUrl.sslMode, 'verify-full');
    assert.equal(fromUrl.tls?.ca, 'CA-FROM-URL');
    const o = resolveDbOptions(
      loadConfig({
        env: {
          SHARDMQ_AUTH_DATABASE_URL: `postgres://u:p@h/db?sslmode=require&sslrootcert=${join(dir, 'url-ca.pem')}`,
          SHARDMQ_AUTH_SSL_MODE: 'verify-ca',
          SHARDMQ_AUTH_SSL_CA_FILE: join(dir, 'ca.pem'),
          SHARDMQ_AUTH_HOSTS: 'a:1,b:2',
          SHARDMQ_AUTH_PASSWORD: 'secret2',
        },
      }),
    );
    assert.equal(o.sslMode, 'verify-ca');
    assert.equal(o.tls?.ca, 'CA-FROM-SETTING');
    assert.equal(o.tls?.rejectUnauthorized, true);
    assert.deepEqual(o.hosts, [
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ]);
    assert.equal(o.user, 'u');
    assert.equal(o.password, 'secret2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('configurations that cannot work are refused at start with the setting named', () => {
  const env = (e: Record<string, string>) => () => resolveDbOptions(loadConfig({ env: e }));
  assert.throws(env({ SHARDMQ_AUTH_DATABASE_URL: 'postgres://u@h/db', SHARDMQ_AUTH_SSL_MODE: 'verify-full' }), /needs auth.sslCaFile/);
  assert.throws(env({ SHARDMQ_AUTH_DATABASE_URL: 'postgres://u@h/db?sslmode=prefer' }), /sslmode=prefer is not supported/);
  assert.throws(env({ SHARDMQ_AUTH_DATABASE_URL: 'postgres://u@h/db', SHARDMQ_AUTH_SSL_MODE: 'require', SHARDMQ_AUTH_SSL_CA_FILE: '/nonexistent/ca.pem' }), /cannot read/);
  assert.throws(env({ SHARDMQ_AUTH_DATABASE_URL: 'postgres://u@h/db', SHARDMQ_AUTH_SSL_MODE: 'require', SHARDMQ_AUTH_SSL_CERT_FILE: '/x' }), /given together/);
  assert.throws(env({ SHARDMQ_AUTH_DATABASE_URL: 'postgres://u@h/db?sslmode=disable', SHARDMQ_AUTH_HOSTS: 'h:0' }), ConfigError);
});
