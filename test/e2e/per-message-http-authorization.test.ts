import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MODES } from '../support/broker.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { startAuthHttpServer, type AuthHttpServer } from '../support/auth-http-server.js';
import { collect, publish, subackCodes, subscribe, waitFor } from '../support/mqtt-clients.js';

// Per-message authorization (auth.http.aclUrl) with real clients, in one process and as a
// cluster: every PUBLISH topic and SUBSCRIBE filter the CONNECT ACL allowed is put to the team's
// HTTP API (started here); answers are reused per connection as Cache-Control says, a refusal is
// PUBACK/SUBACK 0x87, the API being down refuses what is not cached, and publishes held for an
// answer keep their order.

interface AclAsk {
  clientid: string;
  username: string | null;
  mountpoint: string;
  action: 'publish' | 'subscribe';
  topic: string;
  qos: number;
  retain: boolean;
}

let api: AuthHttpServer;
const env: Record<string, string> = { SHARDMQ_AUTH_HTTP_RETRIES: '0', SHARDMQ_AUTH_HTTP_TIMEOUT_MS: '1000' };

before(async () => {
  api = await startAuthHttpServer();
  // Authentication: everyone with password "pw" may do anything the per-message API allows.
  api.route('/auth', (b) =>
    (b as { password: string }).password === 'pw' ? { json: { result: 'allow', publish_acl: [{ pattern: '#' }], subscribe_acl: [{ pattern: '#' }] } } : { json: { result: 'deny' } },
  );
  api.route('/acl', (raw) => {
    const a = raw as AclAsk;
    const allow = a.topic.startsWith('allowed/') || a.topic === 'allowed';
    return { json: { result: allow ? 'allow' : 'deny' }, headers: { 'cache-control': a.topic.startsWith('allowed/nocache') ? 'no-store' : 'max-age=600' } };
  });
  env.SHARDMQ_AUTH_HTTP_URL = api.url('/auth');
  env.SHARDMQ_AUTH_HTTP_ACL_URL = api.url('/acl');
});
after(async () => {
  await api?.stop();
});

const asks = (filter: (a: AclAsk) => boolean) =>
  api.requests
    .filter((r) => r.path === '/acl')
    .map((r) => r.body as AclAsk)
    .filter(filter);

for (const mode of MODES) {
  describe(`per-message HTTP authorization (${mode})`, () => {
    const f = brokerFixture(mode, { env });

    test('PUBLISH and SUBSCRIBE are put to the API; refusals are 0x87; answers are reused per connection', async () => {
      const { broker, pool } = f;
      const watcher = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `w-${mode}`, username: 'watcher', password: 'pw' });
      const got = collect(watcher);
      assert.deepEqual(await subackCodes(watcher, ['allowed/#', 'denied/#']), [1, 0x87]);
      const subAsk = asks((a) => a.clientid === `w-${mode}` && a.action === 'subscribe');
      assert.deepEqual(
        subAsk.map((a) => [a.topic, a.qos, a.username]),
        [
          ['allowed/#', 1, 'watcher'],
          ['denied/#', 1, 'watcher'],
        ],
      );

      const cid = `p-${mode}`;
      const pub = await pool.connect(broker.url(mode === 'cluster' ? 1 : 0), { protocolVersion: 5, clientId: cid, username: 'dev', password: 'pw' });
      await assert.rejects(publish(pub, 'denied/x', 'no', { qos: 1 }), (e: Error & { code?: number }) => e.code === 0x87);
      for (let i = 0; i < 5; i++) await publish(pub, 'allowed/cached', `c${i}`, { qos: 1 });
      for (let i = 0; i < 3; i++) await publish(pub, 'allowed/nocache', `n${i}`, { qos: 1 });
      await waitFor(() => got.length >= 8, 'the eight allowed messages');
      assert.equal(asks((a) => a.clientid === cid && a.topic === 'allowed/cached').length, 1, 'max-age: asked once for five publishes');
      assert.equal(asks((a) => a.clientid === cid && a.topic === 'allowed/nocache').length, 3, 'no-store: asked every time');
      const first = asks((a) => a.clientid === cid && a.topic === 'allowed/cached')[0]!;
      assert.deepEqual(first, { clientid: cid, username: 'dev', mountpoint: '', action: 'publish', topic: 'allowed/cached', qos: 1, retain: false });
      assert.ok(!got.some((g) => g.topic === 'denied/x'));
    });

    test('publishes held for an answer keep their order', async () => {
      const { broker, pool } = f;
      const watcher = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `ow-${mode}`, username: 'watcher', password: 'pw' });
      const got = collect(watcher);
      await subscribe(watcher, 'allowed/order/#', { qos: 1 });
      const pub = await pool.connect(broker.url(0), { protocolVersion: 4, clientId: `op-${mode}`, username: 'dev', password: 'pw' });
      // New topics (each needs an answer) interleaved with a topic already answered (cached): all
      // sent at once, so a cached one arrives while an earlier one waits for its answer.
      await publish(pub, 'allowed/order/same', 'warm-up', { qos: 1 });
      await waitFor(() => got.length >= 1, 'the warm-up message');
      got.length = 0;
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 20; i++) sends.push(publish(pub, i % 2 === 0 ? `allowed/order/t${i}` : 'allowed/order/same', String(i), { qos: 1 }));
      await Promise.all(sends);
      await waitFor(() => got.length >= 20, 'the twenty messages');
      assert.deepEqual(
        got.map((g) => Number(g.payload.toString())),
        Array.from({ length: 20 }, (_, i) => i),
      );
    });

    test('API down: what is not cached is refused; cached answers still apply', async () => {
      const { broker, pool } = f;
      const pub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `d-${mode}`, username: 'dev', password: 'pw' });
      await publish(pub, 'allowed/before', 'x', { qos: 1 });
      await api.stop();
      try {
        await publish(pub, 'allowed/before', 'cached', { qos: 1 });
        await assert.rejects(publish(pub, 'allowed/new', 'x', { qos: 1 }), (e: Error & { code?: number }) => e.code === 0x87, 'fail closed');
        assert.deepEqual(await subackCodes(pub, ['allowed/sub']), [0x87]);
      } finally {
        await api.start();
      }
      await publish(pub, 'allowed/new', 'x', { qos: 1 });
    });
  });
}
