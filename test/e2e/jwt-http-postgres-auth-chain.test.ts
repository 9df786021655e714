import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MODES } from '../support/broker.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { metricOf } from '../support/broker-metrics.js';
import { startAuthHttpServer, type AuthHttpServer } from '../support/auth-http-server.js';
import { signToken } from '../support/jwt-tokens.js';
import { collect, publish, sleep, subackCodes, subscribe, waitFor } from '../support/mqtt-clients.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration, insertVmqUser } from '../support/vmq-db.js';

// Real MQTT clients against shardmq with the chain jwt,http,postgres (one process, and a cluster
// with the auth-service as its own process behind NATS): JWT passwords decide at the JWT backend,
// anything else goes to the team's HTTP auth API started here, which vouches for its own devices
// and answers "ignore" for the rest, which PostgreSQL (VerneMQ rows) then decides. ACLs from each
// backend are enforced on PUBLISH and SUBSCRIBE; the HTTP server going down gives "server unavailable".
// mqtt.js sends no password without a user name (even in 5.0), so JWT clients here send "jwt" as
// user name; the password-only 5.0 CONNECT is covered in test/integration/jwt-auth-backend.test.ts.

const SECRET = Buffer.from('e2e-shared-secret-for-hs256-tokens-0123');
let dir: string;
let db: PostgresHandle;
let api: AuthHttpServer;
/** Settings of every broker below; the paths and URLs are filled in by before(), which runs before the suites start their brokers. */
const env: Record<string, string> = {
  SHARDMQ_AUTH_CHAIN: 'jwt,http,postgres',
  SHARDMQ_AUTH_HTTP_TIMEOUT_MS: '1000',
  SHARDMQ_AUTH_HTTP_RETRIES: '1',
  SHARDMQ_AUTH_HTTP_RETRY_BASE_DELAY_MS: '20',
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shardmq-chain-'));
  env.SHARDMQ_AUTH_JWT_SECRET_FILE = join(dir, 'jwt-secret');
  await writeFile(env.SHARDMQ_AUTH_JWT_SECRET_FILE, SECRET);
  db = await startPostgres();
  await applyVmqMigration(db);
  await insertVmqUser(db, { username: 'pg-user', password: 'pg-pw', publishAcl: [{ pattern: 'pg/%c/#' }], subscribeAcl: [{ pattern: 'pg/%c/#' }] });
  api = await startAuthHttpServer();
  api.route('/mqtt/auth', (raw) => {
    const b = raw as { clientid: string; username: string | null; password: string | null };
    if (b.username === 'http-user' && b.password === 'http-pw') {
      return { json: { result: 'allow', publish_acl: [{ pattern: 'http/%c/up', max_qos: 1 }], subscribe_acl: [{ pattern: 'http/%c/down' }] }, headers: { 'cache-control': 'max-age=0' } };
    }
    if (b.username === 'http-user') return { json: { result: 'deny', reason: 'wrong password' } };
    return { json: { result: 'ignore' } };
  });
  env.SHARDMQ_AUTH_HTTP_URL = api.url('/mqtt/auth');
  env.SHARDMQ_AUTH_DATABASE_URL = db.url;
});

after(async () => {
  await api?.stop();
  await db?.destroy();
  await rm(dir, { recursive: true, force: true });
});

for (const mode of MODES) {
  describe(`auth chain jwt,http,postgres end to end (${mode})`, () => {
    const f = brokerFixture(mode, { env });

    test('JWT: the token decides and its ACL claims are enforced (5.0 PUBACK/SUBACK 0x87, 3.1.1 SUBACK 0x80)', async () => {
      const { broker, pool } = f;
      const watcherToken = await signToken({ clientid: 'watcher', subscribe_acl: [{ pattern: '#' }] }, SECRET);
      const watcher = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: 'watcher', username: 'jwt', password: watcherToken });
      const got = collect(watcher);
      await subscribe(watcher, '#', { qos: 1 });

      const token = (cid: string) => signToken({ clientid: cid, publish_acl: [{ pattern: 'jwt/%c/up' }], subscribe_acl: [{ pattern: 'jwt/%c/down' }] }, SECRET);
      const d5 = await pool.connect(broker.url(mode === 'cluster' ? 1 : 0), { protocolVersion: 5, clientId: 'j5', username: 'jwt', password: await token('j5') });
      await assert.rejects(publish(d5, 'jwt/other/up', 'spoof', { qos: 1 }), (e: Error & { code?: number }) => e.code === 0x87);
      await publish(d5, 'jwt/j5/up', 'own-j5', { qos: 1 });
      assert.deepEqual(await subackCodes(d5, ['jwt/j5/down', 'jwt/other/down']), [1, 0x87]);
      const d4 = await pool.connect(broker.url(0), { protocolVersion: 4, clientId: 'j4', username: 'jwt', password: await token('j4') });
      assert.deepEqual(await subackCodes(d4, ['jwt/j4/down', '#']), [1, 0x80]);
      await waitFor(() => got.some((g) => g.payload.toString() === 'own-j5'), 'the allowed JWT publish');
      await sleep(200);
      assert.ok(!got.some((g) => g.payload.toString() === 'spoof'));

      assert.equal(await pool.refused(broker.url(0), { protocolVersion: 5, clientId: 'j5', username: 'jwt', password: await signToken({}, SECRET, { expInS: -120 }) }), 0x86, 'expired');
      assert.equal(await pool.refused(broker.url(0), { protocolVersion: 4, clientId: 'j4', username: 'jwt', password: await signToken({}, SECRET, { nbfInS: 300 }) }), 4, 'not yet valid');
      assert.equal(await pool.refused(broker.url(0), { protocolVersion: 5, clientId: 'j6', username: 'jwt', password: await token('someone-else') }), 0x87, 'token for another client id');
    });

    test('non-JWT passwords: the HTTP API decides its devices (with ACLs), PostgreSQL the ones it ignores', async () => {
      const { broker, pool } = f;
      const h = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: 'h1', username: 'http-user', password: 'http-pw' });
      await publish(h, 'http/h1/up', 'x', { qos: 1 });
      await assert.rejects(publish(h, 'http/h1/up', 'x', { qos: 2 }), (e: Error & { code?: number }) => e.code === 0x87, 'max_qos 1 from the HTTP answer');
      assert.deepEqual(await subackCodes(h, ['http/h1/down', 'http/h2/down']), [1, 0x87]);
      assert.equal(await pool.refused(broker.url(0), { protocolVersion: 4, clientId: 'h1', username: 'http-user', password: 'nope' }), 4);

      const asked = api.requests.at(-1)!.body as { clientid: string; peer: string | null; protocol_version: number };
      assert.equal(asked.clientid, 'h1');
      assert.equal(asked.protocol_version, 4);
      assert.match(asked.peer ?? '', /^127\.0\.0\.1:\d+$/, 'the gateway passes the peer address on');
      const before = api.count('/mqtt/auth');
      const p = await pool.connect(broker.url(mode === 'cluster' ? 1 : 0), { protocolVersion: 4, clientId: 'p1', username: 'pg-user', password: 'pg-pw' });
      assert.ok(api.count('/mqtt/auth') > before, 'HTTP was asked first and ignored it');
      assert.deepEqual(await subackCodes(p, ['pg/p1/x', 'http/h1/down']), [1, 0x80]);
      assert.equal(await pool.refused(broker.url(0), { protocolVersion: 5, clientId: 'p1', username: 'pg-user', password: 'wrong' }), 0x86, 'PostgreSQL denies');
      assert.equal(await pool.refused(broker.url(0), { protocolVersion: 5, clientId: 'p1' }), 0x87, 'no user name, anonymous off');
      const answered = await metricOf(broker, mode === 'cluster' ? 'auth' : 'shardmq', 'shardmq_auth_backend_answers_total', 'backend="http",answer="ignore"');
      assert.ok(answered >= 2, `HTTP ignore answers counted: ${answered}`);
    });

    test('HTTP server down: unknown devices get "server unavailable" (5.0 0x88, 3.1.1 3); JWT still works', async () => {
      const { broker, pool } = f;
      await api.stop();
      try {
        assert.equal(await pool.refused(broker.url(0), { protocolVersion: 5, clientId: 'h9', username: 'http-user', password: 'http-pw' }), 0x88);
        assert.equal(
          await pool.refused(broker.url(0), { protocolVersion: 4, clientId: 'p9', username: 'pg-user', password: 'pg-pw' }),
          3,
          'HTTP comes before PostgreSQL: unavailable, never bad password',
        );
        const ok = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: 'j9', username: 'jwt', password: await signToken({ clientid: 'j9' }, SECRET) });
        assert.equal(ok.connected, true, 'JWT needs no server');
      } finally {
        await api.start();
      }
      const back = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: 'h9', username: 'http-user', password: 'http-pw' });
      assert.equal(back.connected, true);
    });
  });
}
