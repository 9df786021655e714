import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createAdminApi } from '../../common/src/admin/admin-api.js';
import { decodeConnectionInfoRequest, decodeNodeInfo, decodeSessionAdminReply, decodeSessionAdminRequest } from '../../common/src/admin/admin-envelopes.js';
import { createMemoryBus } from '../../common/src/bus/index.js';
import { loadConfig } from '../../common/src/config/load-config.js';
import { EnvelopeError } from '../../common/src/envelope/envelope-error.js';
import { silentLogger } from '../../common/src/log.js';
import { Metrics } from '../../common/src/metrics.js';
import { adminRequest } from '../support/admin-http.js';

/**
 * The admin API's gate and its answers to bad requests, on a real HTTP server with no broker
 * behind it (nothing answers on the bus), and the admin envelopes refusing garbage.
 */

async function serve(env: Record<string, string>): Promise<{ port: number; server: http.Server }> {
  const config = loadConfig({ env: { SHARDMQ_NATS_REQUEST_TIMEOUT_MS: '100', ...env } });
  const api = createAdminApi({ bus: createMemoryBus(), config, log: silentLogger, metrics: new Metrics(false) });
  const server = http.createServer((req, res) => {
    if (!api(req, res)) {
      res.writeHead(418);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as { port: number }).port, server };
}

describe('admin API without admin.token', () => {
  let s: { port: number; server: http.Server };
  before(async () => (s = await serve({})));
  after(() => s.server.close());

  test('every /api/ path answers 404 saying it is off, whatever the token', async () => {
    for (const path of ['/api/v1/cluster', '/api/v1/clients/x', '/api/v1/publish']) {
      const r = await adminRequest(s.port, 'GET', path, { token: 'anything' });
      assert.equal(r.status, 404);
      assert.match(r.json.error, /admin API is off/);
    }
  });

  test('other paths are left to the HTTP endpoint', async () => {
    assert.equal((await adminRequest(s.port, 'GET', '/metrics')).status, 418);
  });
});

describe('admin API with admin.token', () => {
  let s: { port: number; server: http.Server };
  before(async () => (s = await serve({ SHARDMQ_ADMIN_TOKEN: 'tok', SHARDMQ_ADMIN_MAX_REQUEST_BYTES: '2048' })));
  after(() => s.server.close());

  test('unknown routes 404, wrong methods 405 with Allow', async () => {
    assert.equal((await adminRequest(s.port, 'GET', '/api/v1/nothing', { token: 'tok' })).status, 404);
    const r = await adminRequest(s.port, 'POST', '/api/v1/cluster', { token: 'tok' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET');
    assert.equal((await adminRequest(s.port, 'PUT', '/api/v1/clients/x', { token: 'tok' })).headers.allow, 'GET, DELETE');
  });

  test('a token differing only in length or case is refused', async () => {
    for (const t of ['to', 'tokk', 'TOK', '']) assert.equal((await adminRequest(s.port, 'GET', '/api/v1/cluster', { token: t })).status, 401, t);
  });

  test('a body over admin.maxRequestBytes gets 413; bad fields 400 naming them', async () => {
    assert.equal((await adminRequest(s.port, 'POST', '/api/v1/publish', { token: 'tok', body: { topic: 't', payload: 'x'.repeat(4096) } })).status, 413);
    const bad = await adminRequest(s.port, 'POST', '/api/v1/publish', { token: 'tok', body: { topic: 't', payload: '!!', payloadEncoding: 'base64' } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /payload/);
    assert.match((await adminRequest(s.port, 'POST', '/api/v1/publish', { token: 'tok', body: { topic: 't', retain: 'yes' } })).json.error, /retain/);
  });

  test('no shard owner on the bus: 503, not a hang', async () => {
    const r = await adminRequest(s.port, 'GET', '/api/v1/clients/x', { token: 'tok' });
    assert.equal(r.status, 503);
  });
});

test('admin envelope decoders refuse garbage with EnvelopeError', () => {
  const b = (s: string) => Buffer.from(s);
  for (const data of [b(''), b('[]'), b('{"op":"info"}'), b('{"op":"drop","key":"k"}'), b('{"op":"kick","key":"k"}'), Buffer.from([0xff, 0xfe])]) {
    assert.throws(() => decodeSessionAdminRequest(data), EnvelopeError);
  }
  assert.throws(() => decodeSessionAdminReply(b('{"found":true,"info":{"clientId":1}}')), EnvelopeError);
  assert.throws(() => decodeConnectionInfoRequest(b('{"connId":"1","epoch":2}')), EnvelopeError);
  assert.throws(() => decodeNodeInfo(b('{"nodeId":"n","roles":[1],"version":"1","startedAt":0}')), EnvelopeError);
  assert.throws(() => decodeNodeInfo(b('{"nodeId":"n","roles":[],"version":"1","startedAt":0,"session":{"shards":[1.5]}}')), EnvelopeError);
  assert.deepEqual(decodeSessionAdminRequest(b('{"op":"kick","key":"k","discardSession":true,"future":1}')), { op: 'kick', key: 'k', discardSession: true });
});
