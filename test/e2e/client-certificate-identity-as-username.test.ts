import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startAuthHttpServer, type AuthHttpServer } from '../support/auth-http-server.js';
import { MODES } from '../support/broker.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { metricOf } from '../support/broker-metrics.js';
import { listenerPorts } from '../support/listener-ports.js';
import { collect, publish, subscribe, waitFor } from '../support/mqtt-clients.js';
import { issueCert, makeTestCerts, type IssuedCert, type TestCerts } from '../support/tls-certs.js';

/**
 * mqtt.tlsCertIdentityAsUsername (VerneMQ use_identity_as_username, EMQX peer_cert_as_username):
 * on a TLS listener that verifies client certificates, the certificate's CN (or first SAN) is the
 * user name authentication and ACLs see, whatever the CONNECT carries. Real certificates made by
 * openssl, a real HTTP auth API whose ACL names the user (`devices/%u/#`).
 */

let certs: TestCerts;
let sanCert: IssuedCert;
let api: AuthHttpServer;
const KNOWN = new Set(['device-17', 'device-42.example']);

before(async () => {
  certs = await makeTestCerts({ clientCn: 'device-17' });
  sanCert = await issueCert(certs, 'san-client', { cn: 'ignored-cn', san: ['DNS:device-42.example', 'email:ops@example.com'], client: true });
  api = await startAuthHttpServer();
  // Only the certificate names are users: a CONNECT user name never gets in.
  api.route('/auth', (b) => {
    const user = (b as { username: string | null }).username;
    return user !== null && KNOWN.has(user) ? { json: { result: 'allow', publish_acl: [{ pattern: 'devices/%u/#' }], subscribe_acl: [{ pattern: 'devices/#' }] } } : { json: { result: 'deny' } };
  });
});
after(async () => {
  await api?.stop();
  await certs?.cleanup();
});

function tlsEnv(identity: 'cn' | 'san'): Record<string, string> {
  return {
    SHARDMQ_MQTT_TLS_ENABLED: 'true',
    SHARDMQ_MQTT_TLS_PORT: '0',
    SHARDMQ_MQTT_TLS_CERT_FILE: certs.serverCertFile,
    SHARDMQ_MQTT_TLS_KEY_FILE: certs.serverKeyFile,
    SHARDMQ_MQTT_TLS_CA_FILE: certs.caFile,
    SHARDMQ_MQTT_TLS_REQUIRE_CLIENT_CERT: 'true',
    SHARDMQ_MQTT_TLS_CERT_IDENTITY_AS_USERNAME: identity,
    SHARDMQ_AUTH_HTTP_URL: api.url('/auth'),
    SHARDMQ_AUTH_HTTP_RETRIES: '0',
  };
}

const authUsers = (clientId: string) =>
  api.requests.filter((r) => r.path === '/auth' && (r.body as { clientid: string }).clientid === clientId).map((r) => (r.body as { username: string | null }).username);

for (const mode of MODES) {
  describe(`client certificate CN as user name (${mode})`, () => {
    // The env is read when the fixture starts (after the certificates and the API exist).
    const env: Record<string, string> = {};
    before(() => Object.assign(env, tlsEnv('cn')));
    const f = brokerFixture(mode, { gateways: 1, env });

    test('auth and ACLs see the CN, not the CONNECT user name', async () => {
      const port = listenerPorts(f.broker, mode === 'single' ? undefined : 'gateway-1').tls!;
      const tlsOpts = { ca: readFileSync(certs.caFile), cert: readFileSync(certs.clientCertFile), key: readFileSync(certs.clientKeyFile) };
      const cid = `cn-${mode}`;
      const c = await f.pool.connect(`mqtts://127.0.0.1:${port}`, { ...tlsOpts, clientId: cid, protocolVersion: 5, username: 'spoofed', password: 'anything' });
      assert.deepEqual(authUsers(cid), ['device-17'], 'the auth API was asked about the certificate name only');
      const got = collect(c);
      await subscribe(c, 'devices/#', { qos: 1 });
      await publish(c, 'devices/device-17/up', 'mine', { qos: 1 });
      await assert.rejects(publish(c, 'devices/spoofed/up', 'not mine', { qos: 1 }), (e: Error & { code?: number }) => e.code === 0x87);
      await waitFor(() => got.length >= 1, 'the allowed message back');
      assert.deepEqual(
        got.map((g) => g.topic),
        ['devices/device-17/up'],
      );
    });
  });
}

describe('client certificate SAN on TLS, CN on secure WebSocket (single)', () => {
  const env: Record<string, string> = {};
  before(() =>
    Object.assign(env, tlsEnv('san'), {
      SHARDMQ_MQTT_WSS_ENABLED: 'true',
      SHARDMQ_MQTT_WSS_PORT: '0',
      SHARDMQ_MQTT_WSS_CERT_IDENTITY_AS_USERNAME: 'cn',
    }),
  );
  const f = brokerFixture('single', { env });

  test('the first DNS/email/URI SAN is the user name; a certificate without one is refused 0x86', async () => {
    const port = listenerPorts(f.broker).tls!;
    const ca = readFileSync(certs.caFile);
    const c = await f.pool.connect(`mqtts://127.0.0.1:${port}`, { ca, cert: readFileSync(sanCert.certFile), key: readFileSync(sanCert.keyFile), clientId: 'san-1', protocolVersion: 5 });
    assert.deepEqual(authUsers('san-1'), ['device-42.example']);
    await publish(c, 'devices/device-42.example/up', 'x', { qos: 1 });

    // The CN-only client certificate names no SAN: refused before any auth request.
    const rc = await f.pool.refused(`mqtts://127.0.0.1:${port}`, {
      ca,
      cert: readFileSync(certs.clientCertFile),
      key: readFileSync(certs.clientKeyFile),
      clientId: 'san-none',
      protocolVersion: 5,
      username: 'device-17',
    });
    assert.equal(rc, 0x86, 'Bad User Name or Password');
    assert.deepEqual(authUsers('san-none'), []);
    assert.equal(await metricOf(f.broker, 'shardmq', 'shardmq_gateway_events_total', 'what="connect_refused_cert_identity_missing"'), 1);
  });

  test('the secure WebSocket listener has its own setting: the CN there', async () => {
    const port = listenerPorts(f.broker).wss!;
    const c = await f.pool.connect(`wss://localhost:${port}/mqtt`, {
      ca: readFileSync(certs.caFile),
      cert: readFileSync(certs.clientCertFile),
      key: readFileSync(certs.clientKeyFile),
      clientId: 'wss-cn',
      protocolVersion: 5,
      username: 'spoofed',
    });
    assert.deepEqual(authUsers('wss-cn'), ['device-17']);
    await publish(c, 'devices/device-17/up', 'over wss', { qos: 1 });
  });
});
