import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { IDisconnectPacket } from 'mqtt-packet';
import { ADMIN_ROUTES } from '../../common/src/admin/admin-api.js';
import { adminPort, adminRequest } from '../support/admin-http.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { MODES } from '../support/broker.js';
import { collect, subscribe, waitFor } from '../support/mqtt-clients.js';

/**
 * The admin API end to end, in one process and from a cluster process that holds neither the
 * session nor the connection (the auth process): the bearer token, client info, disconnect
 * with DISCONNECT 0x98 and session discard, the cluster view, publish as the broker, and the
 * OpenAPI document matching what is served.
 */

const TOKEN = 'admin-test-token';
const openapi = JSON.parse(readFileSync(new URL('../../../docs/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };

for (const mode of MODES) {
  describe(`admin API (${mode})`, () => {
    const f = brokerFixture(mode, { env: { SHARDMQ_ADMIN_TOKEN: TOKEN } });
    const api = (method: string, path: string, body?: unknown) => adminRequest(adminPort(f.broker.httpPorts), method, path, { token: TOKEN, body });
    const id = (s: string) => `${mode}-admin-${s}`;

    test('a missing or wrong token gets 401 with a Bearer challenge', async () => {
      const port = adminPort(f.broker.httpPorts);
      const none = await adminRequest(port, 'GET', '/api/v1/cluster');
      assert.equal(none.status, 401);
      assert.match(String(none.headers['www-authenticate']), /^Bearer realm="shardmq"$/);
      const wrong = await adminRequest(port, 'GET', `/api/v1/clients/${id('x')}`, { token: 'not-it' });
      assert.equal(wrong.status, 401);
      assert.match(String(wrong.headers['www-authenticate']), /^Bearer .*error="invalid_token"/);
      // /metrics stays open.
      assert.equal((await adminRequest(port, 'GET', '/healthz')).status, 200);
    });

    test('GET a client: 404 without a session; connection, subscriptions and session fields with one', async () => {
      assert.equal((await api('GET', `/api/v1/clients/${id('nobody')}`)).status, 404);
      const c = await f.pool.connect(f.broker.url(1), { protocolVersion: 5, clientId: id('dev/1'), clean: false, keepalive: 45, properties: { sessionExpiryInterval: 600 } });
      await subscribe(c, 'fleet/+/cmd', { qos: 1 });
      const r = await api('GET', `/api/v1/clients/${encodeURIComponent(id('dev/1'))}`);
      assert.equal(r.status, 200, r.body);
      const j = r.json;
      assert.equal(j.clientId, id('dev/1'));
      assert.equal(j.connected, true);
      assert.equal(j.protocolLevel, 5);
      assert.equal(j.keepaliveS, 45);
      assert.equal(j.sessionExpiryS, 600);
      assert.equal(j.listener, 'tcp');
      assert.match(j.peer, /^127\.0\.0\.1:\d+$/);
      assert.ok(Date.parse(j.connectedAt) > Date.now() - 10 * 60_000, j.connectedAt);
      assert.equal(typeof j.gateway, 'string');
      assert.deepEqual(
        j.subscriptions.map((s: { filter: string; qos: number }) => [s.filter, s.qos]),
        [['fleet/+/cmd', 1]],
      );
      assert.equal(j.queued, 0);
      assert.equal(j.inflight, 0);
      assert.equal(j.sessionExpiresAt, null);
    });

    test('POST publish reaches subscribers (QoS 1, base64 payload) and says when nothing matched', async () => {
      const sub = await f.pool.connect(f.broker.url(0), { protocolVersion: 5, clientId: id('pubsub') });
      await subscribe(sub, `${mode}/admin/+`, { qos: 1 });
      const got = collect(sub);
      const r = await api('POST', '/api/v1/publish', { topic: `${mode}/admin/a`, payload: Buffer.from([0, 1, 2, 255]).toString('base64'), payloadEncoding: 'base64', qos: 1 });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.matched, true);
      await waitFor(() => got.length === 1, 'the published message');
      assert.deepEqual([...got[0]!.payload], [0, 1, 2, 255]);
      assert.equal(got[0]!.packet.qos, 1);
      const none = await api('POST', '/api/v1/publish', { topic: `${mode}/nobody/listens`, payload: 'x' });
      assert.equal(none.status, 200, none.body);
      assert.equal(none.json.matched, false);
      assert.equal((await api('POST', '/api/v1/publish', { topic: 'bad/#', payload: 'x' })).status, 400);
      assert.equal((await api('POST', '/api/v1/publish', { topic: 'a', qos: 3 })).status, 400);
      assert.equal((await api('POST', '/api/v1/publish', '{not json')).status, 400);
    });

    test('POST publish with retain stores a retained message', async () => {
      const r = await api('POST', '/api/v1/publish', { topic: `${mode}/admin/retained`, payload: 'kept', qos: 1, retain: true });
      assert.equal(r.status, 200, r.body);
      const late = await f.pool.connect(f.broker.url(0), { protocolVersion: 4, clientId: id('late') });
      const got = collect(late);
      await subscribe(late, `${mode}/admin/retained`, { qos: 1 });
      await waitFor(() => got.length === 1, 'the retained message');
      assert.equal(got[0]!.payload.toString(), 'kept');
      assert.equal(got[0]!.packet.retain, true);
    });

    test('DELETE disconnects with 0x98 and keeps the session; ?session=true discards it', async () => {
      const clientId = id('kick');
      const c = await f.pool.connect(f.broker.url(0), { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 600 } });
      await subscribe(c, 'kick/me', { qos: 1 });
      let disconnect: IDisconnectPacket | undefined;
      c.on('disconnect', (p) => (disconnect = p));
      const r = await api('DELETE', `/api/v1/clients/${clientId}`);
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.json, { clientId, disconnected: true, sessionDiscarded: false });
      await waitFor(() => disconnect !== undefined, 'DISCONNECT from the broker');
      assert.equal(disconnect!.reasonCode, 0x98);
      const after = await api('GET', `/api/v1/clients/${clientId}`);
      assert.equal(after.status, 200);
      assert.equal(after.json.connected, false);
      assert.equal(after.json.subscriptions.length, 1);
      assert.notEqual(after.json.sessionExpiresAt, null);
      const gone = await api('DELETE', `/api/v1/clients/${clientId}?session=true`);
      assert.deepEqual(gone.json, { clientId, disconnected: false, sessionDiscarded: true });
      assert.equal((await api('GET', `/api/v1/clients/${clientId}`)).status, 404);
      assert.equal((await api('DELETE', `/api/v1/clients/${clientId}`)).status, 404);
    });

    test('DELETE of a 3.1.1 client closes it (no DISCONNECT in 3.1.1)', async () => {
      const clientId = id('kick311');
      const c = await f.pool.connect(f.broker.url(1), { protocolVersion: 4, clientId });
      let closed = false;
      c.on('close', () => (closed = true));
      const r = await api('DELETE', `/api/v1/clients/${clientId}`);
      assert.equal(r.json.disconnected, true);
      await waitFor(() => closed, 'the socket to close');
      // A clean-session 3.1.1 session ends with its connection (in the same turn as the kick).
      assert.equal((await api('GET', `/api/v1/clients/${clientId}`)).status, 404);
    });

    test('GET cluster lists every tier, the gateways, routers, versions and who owns the shards', async () => {
      const expectGateways = mode === 'single' ? 1 : 2;
      let j: any;
      // A process that answered late is missing from one view: ask again until every one is there.
      const deadline = Date.now() + 30_000;
      for (;;) {
        j = (await api('GET', '/api/v1/cluster')).json;
        if ((j.gateways.length === expectGateways && j.shards.unowned === 0 && j.routers.length === 1) || Date.now() > deadline) break;
      }
      for (const tier of ['gateway', 'session', 'router', 'auth']) assert.ok(j.tiers[tier].length >= 1, `tier ${tier}: ${JSON.stringify(j.tiers)}`);
      assert.equal(j.gateways.length, expectGateways);
      assert.equal(j.routers.length, 1);
      assert.equal(j.shards.unowned, 0);
      assert.equal(j.shards.owned, j.shards.total);
      assert.deepEqual(
        Object.values(j.shards.owners).reduce((a: number, b) => a + (b as number), 0),
        j.shards.total,
      );
      const version = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version as string;
      assert.deepEqual(Object.keys(j.versions), [version]);
      assert.equal(j.nodes.length, mode === 'single' ? 1 : 5);
    });

    test('the OpenAPI document lists exactly the served routes, and every documented operation answers', async () => {
      const documented = Object.entries(openapi.paths).flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((k) => k !== 'parameters')
          .map((method) => `${method} ${path}`),
      );
      assert.deepEqual(documented.sort(), ADMIN_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
      for (const [path, ops] of Object.entries(openapi.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          if (method === 'parameters') continue;
          const concrete = path.replace('{clientId}', id('openapi-probe'));
          const body = method === 'post' ? { topic: `${mode}/openapi/probe` } : undefined;
          const r = await api(method.toUpperCase(), concrete, body);
          assert.ok(String(r.status) in op.responses, `${method} ${path} answered ${r.status}, not a documented response: ${r.body}`);
          const bare = await adminRequest(adminPort(f.broker.httpPorts), method.toUpperCase(), concrete);
          assert.equal(bare.status, 401, `${method} ${path} without a token`);
        }
      }
    });
  });
}

for (const mode of MODES) {
  describe(`admin API with a mountpoint (${mode})`, () => {
    const f = brokerFixture(mode, { gateways: 1, env: { SHARDMQ_ADMIN_TOKEN: TOKEN, SHARDMQ_MQTT_MOUNTPOINT: 'tenantA' } });
    const api = (method: string, path: string, body?: unknown) => adminRequest(adminPort(f.broker.httpPorts), method, path, { token: TOKEN, body });

    test('clients are found under their mountpoint only; a publish reaches the tenant it names', async () => {
      const clientId = `${mode}-mp-dev`;
      const c = await f.pool.connect(f.broker.url(0), { protocolVersion: 5, clientId });
      await subscribe(c, 'tenant/news', { qos: 1 });
      const got = collect(c);
      assert.equal((await api('GET', `/api/v1/clients/${clientId}`)).status, 404, 'not in the default mountpoint');
      const r = await api('GET', `/api/v1/clients/${clientId}?mountpoint=tenantA`);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.mountpoint, 'tenantA');
      const other = await api('POST', '/api/v1/publish', { topic: 'tenant/news', payload: 'not for you', qos: 1 });
      assert.equal(other.json.matched, false, 'the default mountpoint has no such subscriber');
      const mine = await api('POST', '/api/v1/publish', { topic: 'tenant/news', payload: 'hello tenant', qos: 1, mountpoint: 'tenantA' });
      assert.equal(mine.json.matched, true);
      await waitFor(() => got.length === 1, 'the tenant message');
      assert.equal(got[0]!.payload.toString(), 'hello tenant');
      const kick = await api('DELETE', `/api/v1/clients/${clientId}?mountpoint=tenantA&session=true`);
      assert.deepEqual(kick.json, { clientId, disconnected: true, sessionDiscarded: true });
    });
  });
}
