import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkPublish, checkSubscribe } from '../../common/src/acl/check-acl.js';
import { eventually, metricValue, startAuthHarness, type AuthHarness } from '../support/auth-harness.js';
import { startAuthHttpServer, type AuthHttpServer } from '../support/auth-http-server.js';
import { makeSigningKey, signToken, writePublicKeyFile, type SigningKey } from '../support/jwt-tokens.js';

// JWT authentication with real signed tokens: HS256 with a secret file, RS256 and ES256 with a
// PEM public key, and a JWKS endpoint served here whose keys rotate. Expired and not-yet-valid
// tokens are refused; claims bind the token to a client id and carry the ACL.

const SECRET = Buffer.from('a-long-shared-secret-for-hs256-tests!');
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shardmq-jwt-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('JWT with a secret file (HS256) and a public key file (RS256, ES256)', () => {
  let hs: AuthHarness;
  let rs: AuthHarness;
  let es: AuthHarness;
  let rsKey: SigningKey;
  let esKey: SigningKey;

  before(async () => {
    const secretFile = join(dir, 'secret');
    await writeFile(secretFile, Buffer.concat([SECRET, Buffer.from('\n')]));
    rsKey = await makeSigningKey('RS256', 'rs-1');
    esKey = await makeSigningKey('ES256', 'es-1');
    hs = await startAuthHarness({ SHARDMQ_AUTH_JWT_SECRET_FILE: secretFile, SHARDMQ_AUTH_JWT_CLOCK_SKEW_MS: '5000' });
    rs = await startAuthHarness({ SHARDMQ_AUTH_JWT_PUBLIC_KEY_FILE: await writePublicKeyFile(dir, rsKey) });
    es = await startAuthHarness({ SHARDMQ_AUTH_JWT_PUBLIC_KEY_FILE: await writePublicKeyFile(dir, esKey), SHARDMQ_AUTH_JWT_ALGORITHMS: 'ES256' });
  });
  after(async () => {
    for (const h of [hs, rs, es]) await h?.close();
  });

  test('a valid token connects with the ACL of its claims (%c substituted)', async () => {
    const token = await signToken({ clientid: 'dev-1', publish_acl: [{ pattern: 'devices/%c/up/#', max_qos: 1 }], subscribe_acl: [{ pattern: 'devices/%c/down/#' }] }, SECRET);
    const r = await hs.connect({ clientId: 'dev-1', username: 'jwt', password: token, protocolVersion: 4 });
    assert.equal(r.result, 'ok');
    assert.ok(checkPublish(r.acl, 'devices/dev-1/up/x', 1, false, 1));
    assert.ok(!checkPublish(r.acl, 'devices/dev-2/up/x', 1, false, 1));
    assert.ok(checkSubscribe(r.acl, 'devices/dev-1/down/#', 1));
    assert.ok(!hs.logs.some((l) => l.includes(token)), 'the token is never logged');
  });

  test('MQTT 5 password without user name: the username claim is the user (%u)', async () => {
    const token = await signToken({ username: 'alice', subscribe_acl: [{ pattern: 'users/%u/#' }] }, SECRET);
    const r = await hs.connect({ clientId: 'any', password: token, protocolVersion: 5 });
    assert.equal(r.result, 'ok');
    assert.ok(checkSubscribe(r.acl, 'users/alice/inbox', 0));
  });

  test('expired, not yet valid, wrong signature, no exp, other client id: refused', async () => {
    const cases: [string, Promise<string>, string][] = [
      ['expired', signToken({}, SECRET, { expInS: -60 }), 'bad-credentials'],
      ['not-yet-valid', signToken({}, SECRET, { nbfInS: 120 }), 'bad-credentials'],
      ['signature', signToken({}, Buffer.from('another-secret-entirely-32-bytes!!')), 'bad-credentials'],
      ['claims', signToken({}, SECRET, { expInS: null }), 'bad-credentials'],
      ['identity', signToken({ clientid: 'dev-2' }, SECRET), 'not-authorized'],
    ];
    for (const [reason, token, result] of cases) {
      const r = await hs.connect({ clientId: 'dev-1', username: 'jwt', password: await token });
      assert.equal(r.result, result, reason);
      assert.equal(await metricValue(hs.metrics, 'shardmq_auth_jwt_refused_total', { reason }), 1, reason);
    }
  });

  test('clock skew: a token expired a moment ago is still accepted within auth.jwt.clockSkewMs', async () => {
    const r = await hs.connect({ clientId: 'dev-1', username: 'jwt', password: await signToken({}, SECRET, { expInS: -2 }) });
    assert.equal(r.result, 'ok');
  });

  test('RS256 and ES256 with a PEM public key; algorithms outside auth.jwt.algorithms refused', async () => {
    const claims = { publish_acl: [{ pattern: 'a/#' }] };
    assert.equal((await rs.connect({ clientId: 'c', username: 'u', password: await signToken(claims, rsKey) })).result, 'ok');
    assert.equal((await es.connect({ clientId: 'c', username: 'u', password: await signToken(claims, esKey) })).result, 'ok');
    assert.equal((await rs.connect({ clientId: 'c', username: 'u', password: await signToken(claims, esKey) })).result, 'bad-credentials', 'another key');
    assert.equal((await es.connect({ clientId: 'c', username: 'u', password: await signToken(claims, SECRET) })).result, 'bad-credentials', 'HS256 not allowed');
    assert.equal(await metricValue(es.metrics, 'shardmq_auth_jwt_refused_total', { reason: 'algorithm' }), 1);
  });

  test('a password that is not a JWT is ignored (alone: bad credentials; without user name: anonymous rule)', async () => {
    assert.equal((await hs.connect({ clientId: 'c', username: 'u', password: 'plain' })).result, 'bad-credentials');
    assert.equal(await metricValue(hs.metrics, 'shardmq_auth_backend_answers_total', { backend: 'jwt', answer: 'ignore' }), 1);
    assert.equal((await hs.connect({ clientId: 'c' })).result, 'not-authorized');
  });
});

describe('JWT with a JWKS endpoint', () => {
  let server: AuthHttpServer;
  let auth: AuthHarness;
  let k1: SigningKey;
  let k2: SigningKey;
  let keys: SigningKey[];

  before(async () => {
    k1 = await makeSigningKey('RS256', 'k1');
    k2 = await makeSigningKey('ES256', 'k2');
    keys = [k1];
    server = await startAuthHttpServer();
    server.route('/jwks', () => ({ json: { keys: keys.map((k) => k.jwk) } }));
    auth = await startAuthHarness({
      SHARDMQ_AUTH_JWT_JWKS_URL: server.url('/jwks'),
      SHARDMQ_AUTH_JWT_JWKS_MIN_REFRESH_INTERVAL_MS: '0',
      SHARDMQ_AUTH_JWT_JWKS_REFRESH_INTERVAL_MS: '3600000',
    });
  });
  after(async () => {
    await auth?.close();
    await server?.stop();
  });

  test('keys are fetched at start; a rotated-in kid triggers a fetch; a rotated-out key is refused after refresh', async () => {
    assert.equal(server.count('/jwks'), 1, 'fetched at start');
    assert.equal((await auth.connect({ clientId: 'c', username: 'u', password: await signToken({}, k1) })).result, 'ok');
    assert.equal(server.count('/jwks'), 1, 'a known kid needs no fetch');

    keys = [k1, k2]; // the issuer rotates a new key in
    assert.equal((await auth.connect({ clientId: 'c', username: 'u', password: await signToken({}, k2) })).result, 'ok');
    assert.equal(server.count('/jwks'), 2, 'the unknown kid caused one fetch');

    keys = [k2]; // and the old one out: the next unknown kid refreshes the set
    assert.equal((await auth.connect({ clientId: 'c', username: 'u', password: await signToken({}, k2, { kid: 'made-up' }) })).result, 'bad-credentials');
    assert.equal((await auth.connect({ clientId: 'c', username: 'u', password: await signToken({}, k1) })).result, 'bad-credentials');
    assert.ok((await metricValue(auth.metrics, 'shardmq_auth_jwt_refused_total', { reason: 'unknown-key' })) >= 1);
  });

  test('JWKS server down: the last keys keep working', async () => {
    await server.stop();
    try {
      assert.equal((await auth.connect({ clientId: 'c', username: 'u', password: await signToken({}, k2) })).result, 'ok');
      assert.equal((await auth.connect({ clientId: 'c', username: 'u', password: await signToken({}, k2, { kid: 'unknown' }) })).result, 'bad-credentials');
      await eventually('a failed fetch is counted', async () => (await metricValue(auth.metrics, 'shardmq_auth_jwks_fetches_total', { result: 'error' })) >= 1);
    } finally {
      await server.start();
    }
  });

  test('unknown kids are rate limited: at most one fetch per auth.jwt.jwksMinRefreshIntervalMs', async () => {
    const limited = await startAuthHarness({ SHARDMQ_AUTH_JWT_JWKS_URL: server.url('/jwks'), SHARDMQ_AUTH_JWT_JWKS_MIN_REFRESH_INTERVAL_MS: '3600000' });
    try {
      const n0 = server.count('/jwks');
      for (let i = 0; i < 5; i++) {
        assert.equal((await limited.connect({ clientId: 'c', username: 'u', password: await signToken({}, k2, { kid: `bogus-${i}` }) })).result, 'bad-credentials');
      }
      assert.equal(server.count('/jwks'), n0, 'no fetch for made-up kids within the interval');
    } finally {
      await limited.close();
    }
  });

  test('JWKS never fetched: unavailable, not bad credentials', async () => {
    const nowhere = await startAuthHttpServer();
    await nowhere.stop();
    const h = await startAuthHarness({ SHARDMQ_AUTH_JWT_JWKS_URL: nowhere.url('/jwks'), SHARDMQ_AUTH_JWT_JWKS_MIN_REFRESH_INTERVAL_MS: '0' });
    try {
      assert.equal((await h.connect({ clientId: 'c', username: 'u', password: await signToken({}, k1) })).result, 'unavailable');
    } finally {
      await h.close();
    }
  });
});
