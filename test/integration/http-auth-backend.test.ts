import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { checkPublish, checkSubscribe } from '../../common/src/acl/check-acl.js';
import { metricValue, startAuthHarness, type AuthHarness } from '../support/auth-harness.js';
import { startAuthHttpServer, type AuthHttpServer, type RouteAnswer } from '../support/auth-http-server.js';
import { makeTestCerts, type TestCerts } from '../support/tls-certs.js';

// The HTTP authentication backend against a real HTTP(S) server started here: the request it
// sends, allow/deny/ignore with ACLs, malformed answers, retries, timeouts, the server going down
// (recent credentials from cache, others "unavailable"), Cache-Control, and HTTPS with a CA file.

/** The team's auth API: users by name; `calls` per user name. */
function authApi(over: Record<string, (body: Record<string, unknown>) => RouteAnswer> = {}) {
  return (raw: unknown): RouteAnswer => {
    const body = raw as Record<string, unknown>;
    const special = over[String(body.username)];
    if (special) return special(body);
    if (body.username === 'fleet' && body.password === 'fleet-pw') {
      return {
        json: { result: 'allow', publish_acl: [{ pattern: 'devices/%c/up/#', max_qos: 1 }], subscribe_acl: [{ pattern: 'devices/%c/down/#' }] },
        headers: { 'cache-control': 'max-age=0' },
      };
    }
    return { json: { result: 'deny', reason: 'unknown device' }, headers: { 'cache-control': 'no-store' } };
  };
}

describe('HTTP auth backend', () => {
  let server: AuthHttpServer;
  let auth: AuthHarness;
  let strict: AuthHarness;
  const SECRET = 'fleet-pw';

  before(async () => {
    server = await startAuthHttpServer();
    let flaky = 0;
    server.route(
      '/auth',
      authApi({
        cached: () => ({ json: { result: 'allow', subscribe_acl: [{ pattern: '#' }] }, headers: { 'cache-control': 'max-age=600' } }),
        uncached: () => ({ json: { result: 'allow' }, headers: { 'cache-control': 'no-store' } }),
        other: () => ({ json: { result: 'ignore' } }),
        broken: () => ({ text: 'Internal error page', headers: { 'content-type': 'text/html' } }),
        badacl: () => ({ json: { result: 'allow', publish_acl: 'devices/#' } }),
        huge: () => ({ json: { result: 'allow', padding: 'x'.repeat(100_000) } }),
        flaky: () => (++flaky % 3 === 0 ? { json: { result: 'allow' } } : { status: 503, text: 'busy' }),
        down: () => ({ status: 503, text: 'busy' }),
        slow: () => ({ hang: true }),
      }),
    );
    const env = {
      SHARDMQ_AUTH_HTTP_URL: server.url('/auth'),
      SHARDMQ_AUTH_HTTP_AUTHORIZATION: 'Bearer broker-token',
      SHARDMQ_AUTH_HTTP_TIMEOUT_MS: '500',
      SHARDMQ_AUTH_HTTP_RETRIES: '2',
      SHARDMQ_AUTH_HTTP_RETRY_BASE_DELAY_MS: '10',
    };
    auth = await startAuthHarness({ ...env, SHARDMQ_AUTH_STALE_WHILE_DOWN_MS: '600000' });
    strict = await startAuthHarness({ ...env, SHARDMQ_AUTH_STALE_WHILE_DOWN_MS: '0' });
  });

  after(async () => {
    await auth?.close();
    await strict?.close();
    await server?.stop();
  });

  test('sends the CONNECT as JSON; allow carries ACLs that are enforced, deny is bad credentials', async () => {
    const before = server.count('/auth');
    const ok = await auth.connect({ clientId: 'dev-1', username: 'fleet', password: SECRET, mountpoint: '', protocolVersion: 5 });
    assert.equal(ok.result, 'ok');
    assert.ok(checkPublish(ok.acl, 'devices/dev-1/up/t', 1, false, 10));
    assert.ok(!checkPublish(ok.acl, 'devices/dev-2/up/t', 1, false, 10), '%c was substituted');
    assert.ok(!checkPublish(ok.acl, 'devices/dev-1/up/t', 2, false, 10), 'max_qos 1');
    assert.ok(checkSubscribe(ok.acl, 'devices/dev-1/down/#', 1));
    assert.ok(!checkSubscribe(ok.acl, 'devices/#', 1));
    const req = server.requests.at(-1)!;
    assert.equal(server.count('/auth'), before + 1);
    assert.equal(req.method, 'POST');
    assert.equal(req.headers.authorization, 'Bearer broker-token');
    assert.deepEqual(req.body, { clientid: 'dev-1', username: 'fleet', password: SECRET, peer: null, mountpoint: '', protocol_version: 5 });

    const denied = await auth.connect({ clientId: 'dev-1', username: 'fleet', password: 'wrong' });
    assert.equal(denied.result, 'bad-credentials');
    assert.equal(denied.reason, 'unknown device');
    assert.ok(!auth.logs.some((l) => l.includes(SECRET)), 'the password is never logged');
  });

  test('ignore with no other backend: bad credentials (a user name nobody vouched for)', async () => {
    assert.equal((await auth.connect({ clientId: 'x', username: 'other', password: 'p' })).result, 'bad-credentials');
  });

  test('a malformed answer refuses that client only (not authorized), with a log line and a metric', async () => {
    for (const username of ['broken', 'badacl']) {
      const r = await auth.connect({ clientId: 'm', username, password: 'p' });
      assert.equal(r.result, 'not-authorized', username);
    }
    assert.equal(await metricValue(auth.metrics, 'shardmq_auth_http_errors_total', { kind: 'malformed' }), 2);
    const huge = await auth.connect({ clientId: 'm', username: 'huge', password: 'p' });
    assert.equal(huge.result, 'not-authorized', 'an answer over auth.http.maxResponseBytes is not read');
    assert.equal(await metricValue(auth.metrics, 'shardmq_auth_http_errors_total', { kind: 'too-large' }), 1);
    assert.equal(auth.logs.filter((l) => l.includes('HTTP auth answer unusable')).length, 3);
    assert.equal((await auth.connect({ clientId: 'dev-1', username: 'fleet', password: SECRET })).result, 'ok', 'others still connect');
  });

  test('Cache-Control: max-age answers from memory, no-store asks every time', async () => {
    const n0 = server.count('/auth');
    for (let i = 0; i < 3; i++) assert.equal((await auth.connect({ clientId: 'c', username: 'cached', password: 'p' })).result, 'ok');
    assert.equal(server.count('/auth'), n0 + 1, 'max-age=600: one request for three CONNECTs');
    assert.equal(await metricValue(auth.metrics, 'shardmq_auth_cache_hits_total', { backend: 'http', kind: 'fresh' }), 2);
    const n1 = server.count('/auth');
    for (let i = 0; i < 3; i++) assert.equal((await auth.connect({ clientId: 'c', username: 'uncached', password: 'p' })).result, 'ok');
    assert.equal(server.count('/auth'), n1 + 3, 'no-store: asked every time');
  });

  test('429/5xx and connection errors are retried a bounded number of times', async () => {
    const n0 = server.count('/auth');
    assert.equal((await auth.connect({ clientId: 'f', username: 'flaky', password: 'p' })).result, 'ok', 'two 503s, then an answer');
    assert.equal(server.count('/auth'), n0 + 3);
    const n1 = server.count('/auth');
    const r = await auth.connect({ clientId: 'f', username: 'down', password: 'p' });
    assert.equal(r.result, 'unavailable');
    assert.equal(server.count('/auth'), n1 + 3, 'one try and two retries, no more');
    assert.ok((await metricValue(auth.metrics, 'shardmq_auth_http_errors_total', { kind: 'status' })) >= 1);
  });

  test('a server that does not answer in time: unavailable', async () => {
    const r = await auth.connect({ clientId: 's', username: 'slow', password: 'p' });
    assert.deepEqual([r.result, r.reason], ['unavailable', 'HTTP auth server unavailable']);
    assert.equal(await metricValue(auth.metrics, 'shardmq_auth_http_errors_total', { kind: 'timeout' }), 1);
  });

  test('server down: recently allowed credentials from cache, anything else unavailable; then back', async () => {
    const known = { clientId: 'dev-9', username: 'fleet', password: SECRET };
    assert.equal((await auth.connect(known)).result, 'ok');
    assert.equal((await strict.connect(known)).result, 'ok');
    await server.stop();
    try {
      const served = await auth.connect(known);
      assert.equal(served.result, 'ok', 'allowed a moment ago: served while the server is down');
      assert.equal(served.acl?.publish[0]?.pattern, 'devices/dev-9/up/#');
      assert.ok((await metricValue(auth.metrics, 'shardmq_auth_cache_hits_total', { backend: 'http', kind: 'stale' })) >= 1);
      assert.equal((await strict.connect(known)).result, 'unavailable', 'staleWhileDownMs=0 serves nothing from cache');
      for (const c of [
        { ...known, password: 'other' },
        { clientId: 'dev-10', username: 'fleet', password: SECRET },
      ]) {
        assert.equal((await auth.connect(c)).result, 'unavailable', 'unknown credentials: retry later, not bad password');
      }
      assert.ok((await metricValue(auth.metrics, 'shardmq_auth_http_errors_total', { kind: 'connect' })) >= 2);
    } finally {
      await server.start();
    }
    assert.equal((await auth.connect({ clientId: 'dev-10', username: 'fleet', password: SECRET })).result, 'ok');
    assert.equal((await auth.connect({ ...known, password: 'other' })).result, 'bad-credentials');
  });
});

describe('HTTP auth backend over HTTPS', () => {
  let certs: TestCerts;
  let server: AuthHttpServer;
  const harnesses: AuthHarness[] = [];

  before(async () => {
    certs = await makeTestCerts();
    server = await startAuthHttpServer({ tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile } });
    server.route('/auth', authApi());
  });
  after(async () => {
    for (const h of harnesses) await h.close();
    await server?.stop();
    await certs?.cleanup();
  });

  test('the server certificate is checked against auth.http.caFile', async () => {
    const env = { SHARDMQ_AUTH_HTTP_URL: server.url('/auth'), SHARDMQ_AUTH_HTTP_RETRIES: '0' };
    const trusted = await startAuthHarness({ ...env, SHARDMQ_AUTH_HTTP_CA_FILE: certs.caFile });
    const wrongCa = await startAuthHarness({ ...env, SHARDMQ_AUTH_HTTP_CA_FILE: certs.otherCaFile });
    harnesses.push(trusted, wrongCa);
    assert.equal((await trusted.connect({ clientId: 'd', username: 'fleet', password: 'fleet-pw' })).result, 'ok');
    assert.equal((await wrongCa.connect({ clientId: 'd', username: 'fleet', password: 'fleet-pw' })).result, 'unavailable');
    assert.equal(await metricValue(wrongCa.metrics, 'shardmq_auth_http_errors_total', { kind: 'tls' }), 1);
  });

  test('an unreadable CA file stops start-up naming the setting', async () => {
    await assert.rejects(startAuthHarness({ SHARDMQ_AUTH_HTTP_URL: server.url('/auth'), SHARDMQ_AUTH_HTTP_CA_FILE: '/nonexistent/ca.pem' }), /auth\.http\.caFile/);
  });
});

describe('per-message authorization through the auth-service (auth.http.aclUrl)', () => {
  let server: AuthHttpServer;
  let auth: AuthHarness;
  before(async () => {
    server = await startAuthHttpServer();
    server.route('/acl', (raw): RouteAnswer => {
      const b = raw as { topic: string };
      const headers: Record<string, string> = b.topic === 'ok/nostore' ? { 'cache-control': 'no-store' } : b.topic === 'ok/short' ? { 'cache-control': 'max-age=5' } : {};
      if (b.topic === 'garbage') return { text: 'not json' };
      if (b.topic === 'forbidden') return { status: 403 };
      return { json: { result: b.topic.startsWith('ok/') ? 'allow' : 'deny' }, headers };
    });
    auth = await startAuthHarness({ SHARDMQ_AUTH_HTTP_ACL_URL: server.url('/acl'), SHARDMQ_AUTH_HTTP_ACL_CACHE_TTL_MS: '45000', SHARDMQ_AUTH_HTTP_RETRIES: '0' });
  });
  after(async () => {
    await auth?.close();
    await server?.stop();
  });

  const ask = (topic: string, action: 'publish' | 'subscribe' = 'publish') => auth.client.authorize({ mountpoint: 'mp', clientId: 'c', username: 'u', action, topic, qos: 1, retain: true });

  test('allow/deny with the reuse time the server allowed; the request carries the whole context', async () => {
    assert.deepEqual(await ask('ok/a'), { allow: true, ttlMs: 45000 });
    assert.deepEqual(server.requests.at(-1)!.body, { clientid: 'c', username: 'u', mountpoint: 'mp', action: 'publish', topic: 'ok/a', qos: 1, retain: true });
    assert.deepEqual(await ask('ok/short', 'subscribe'), { allow: true, ttlMs: 5000 });
    assert.deepEqual(await ask('ok/nostore'), { allow: true, ttlMs: 0 });
    assert.deepEqual(await ask('other'), { allow: false, ttlMs: 45000 });
    assert.deepEqual(await ask('forbidden'), { allow: false, ttlMs: 45000 });
    assert.equal(await metricValue(auth.metrics, 'shardmq_auth_topic_authorizations_total', { action: 'publish', result: 'allow' }), 2);
  });

  test('fails closed and is not reused: an unusable answer, or the server down', async () => {
    assert.deepEqual(await ask('garbage'), { allow: false, ttlMs: 0 });
    await server.stop();
    try {
      assert.deepEqual(await ask('ok/a'), { allow: false, ttlMs: 0 });
    } finally {
      await server.start();
    }
    assert.equal(await metricValue(auth.metrics, 'shardmq_auth_topic_authorizations_total', { result: 'error' }), 2);
    assert.equal(auth.logs.filter((l) => l.includes('per-message authorization failed')).length, 2);
  });
});
