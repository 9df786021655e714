import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, publish, subscribe, waitFor } from '../support/mqtt-clients.js';
import { makeTestCerts, type TestCerts } from '../support/tls-certs.js';
import { listenerPorts } from '../support/listener-ports.js';

describe('TLS, WebSocket and secure WebSocket listeners reach the same broker', () => {
  let broker: Broker;
  let certs: TestCerts;
  const pool = new ClientPool();
  before(async () => {
    certs = await makeTestCerts();
    broker = await startBroker('single', {
      env: {
        SHARDMQ_MQTT_TLS_ENABLED: 'true',
        SHARDMQ_MQTT_TLS_PORT: '0',
        SHARDMQ_MQTT_TLS_CERT_FILE: certs.serverCertFile,
        SHARDMQ_MQTT_TLS_KEY_FILE: certs.serverKeyFile,
        SHARDMQ_MQTT_WS_ENABLED: 'true',
        SHARDMQ_MQTT_WS_PORT: '0',
        SHARDMQ_MQTT_WSS_ENABLED: 'true',
        SHARDMQ_MQTT_WSS_PORT: '0',
      },
    });
  });
  after(async () => {
    await pool.closeAll();
    await broker?.stop();
  });

  test('a subscriber on TCP gets messages published over TLS, WebSocket and WSS', async () => {
    const p = listenerPorts(broker) as { tcp: number; tls: number; ws: number; wss: number };
    const ca = readFileSync(certs.caFile);
    const sub = await pool.connect(`mqtt://127.0.0.1:${p.tcp}`, { clientId: 'l-sub' });
    const got = collect(sub);
    await subscribe(sub, 'listen/+', { qos: 1 });
    const viaTls = await pool.connect(`mqtts://127.0.0.1:${p.tls}`, { clientId: 'l-tls', ca, protocolVersion: 5 });
    const viaWs = await pool.connect(`ws://127.0.0.1:${p.ws}/mqtt`, { clientId: 'l-ws' });
    const viaWss = await pool.connect(`wss://localhost:${p.wss}/mqtt`, { clientId: 'l-wss', ca });
    await publish(viaTls, 'listen/tls', 'a');
    await publish(viaWs, 'listen/ws', 'b');
    await publish(viaWss, 'listen/wss', 'c');
    await waitFor(() => got.length >= 3, 'three messages');
    assert.deepEqual(got.map((g) => g.topic).sort(), ['listen/tls', 'listen/ws', 'listen/wss']);
  });

  test('a TLS client that does not trust the broker certificate cannot connect', async () => {
    const p = listenerPorts(broker) as { tcp: number; tls: number; ws: number; wss: number };
    await assert.rejects(pool.connect(`mqtts://127.0.0.1:${p.tls}`, { clientId: 'l-untrusted', rejectUnauthorized: true }));
  });
});
