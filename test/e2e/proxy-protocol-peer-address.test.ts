import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Packet } from 'mqtt-packet';
import mqttPacket from 'mqtt-packet';
import { adminPort, adminRequest } from '../support/admin-http.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { MODES } from '../support/broker.js';
import { waitForMetric } from '../support/broker-metrics.js';
import { listenerPorts } from '../support/listener-ports.js';
import { waitFor } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';
import { makeTestCerts, type TestCerts } from '../support/tls-certs.js';
import { V2_SIGNATURE } from '../../gateway/src/proxy-protocol.js';

/**
 * PROXY protocol v1 and v2 on the TCP and TLS listeners: a trusted load balancer (here: source
 * 127.0.0.2) names the client's address, which the admin API shows as the peer and (cluster)
 * the auth request carries; a trusted source without a header, a malformed header and a header
 * from an untrusted source (127.0.0.1) close only that connection and are counted.
 */

const TOKEN = 'proxy-admin';
const LB = '127.0.0.2';

function v1(address: string, port: number): Buffer {
  return Buffer.from(`PROXY ${address.includes(':') ? 'TCP6' : 'TCP4'} ${address} ${address.includes(':') ? '::1' : '127.0.0.1'} ${port} 1883\r\n`);
}

function v2Tcp6(address: number[], port: number): Buffer {
  const h = Buffer.alloc(16 + 36);
  V2_SIGNATURE.copy(h);
  h[12] = 0x21;
  h[13] = 0x21;
  h.writeUInt16BE(36, 14);
  Buffer.from(address).copy(h, 16);
  h.writeUInt16BE(port, 48);
  return h;
}

function v2Local(): Buffer {
  const h = Buffer.alloc(16);
  V2_SIGNATURE.copy(h);
  h[12] = 0x20;
  return h;
}

const connectPacket = (clientId: string) => mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: true, keepalive: 0 } as Packet, { protocolVersion: 5 });

for (const mode of MODES) {
  describe(`PROXY protocol (${mode})`, () => {
    let certs: TestCerts;
    let nc: NatsConnection | undefined;
    const authPeers = new Map<string, string>();
    before(async () => {
      certs = await makeTestCerts();
    });
    const f = brokerFixture(mode, {
      gateways: 1,
      // The certificate paths are read when the fixture starts the broker, after makeTestCerts() above.
      env: {
        SHARDMQ_ADMIN_TOKEN: TOKEN,
        SHARDMQ_MQTT_TCP_PROXY_PROTOCOL: 'true',
        SHARDMQ_MQTT_PROXY_PROTOCOL_TRUSTED_CIDRS: `${LB}/32,::ffff:${LB}/128`,
        get SHARDMQ_MQTT_TLS_CERT_FILE() {
          return certs.serverCertFile;
        },
        get SHARDMQ_MQTT_TLS_KEY_FILE() {
          return certs.serverKeyFile;
        },
        SHARDMQ_MQTT_TLS_ENABLED: 'true',
        SHARDMQ_MQTT_TLS_PORT: '0',
        SHARDMQ_MQTT_TLS_PROXY_PROTOCOL: 'true',
      },
    });
    before(async () => {
      // Cluster: listen to the auth requests beside the auth service (a plain subscriber gets a copy).
      if (f.broker.natsUrl) {
        nc = await connect({ servers: f.broker.natsUrl });
        const sub = nc.subscribe('mqtt.auth.v1.connect');
        void (async () => {
          for await (const m of sub) {
            const r = JSON.parse(new TextDecoder().decode(m.data)) as { clientId: string; peer?: string };
            authPeers.set(r.clientId, r.peer ?? '');
          }
        })();
        await nc.flush();
      }
    });
    after(async () => {
      await nc?.close();
      await certs?.cleanup();
    });
    const gw = () => (mode === 'single' ? 'shardmq' : 'gateway-1');
    const id = (s: string) => `${mode}-proxy-${s}`;
    const clientInfo = async (clientId: string) => (await adminRequest(adminPort(f.broker.httpPorts), 'GET', `/api/v1/clients/${encodeURIComponent(clientId)}`, { token: TOKEN })).json;
    /** A raw client whose source is the trusted load balancer's address. */
    const viaLoadBalancer = async (): Promise<RawClient> => {
      const c = await RawClient.open(f.broker.ports[0]!, 5, { localAddress: LB });
      f.raws.push(c);
      return c;
    };
    /** Cluster: the auth request (copied off NATS) named this peer. */
    const authSaw = async (clientId: string, peer: string) => {
      if (!nc) return;
      await waitFor(() => authPeers.has(clientId), 'the copy of the auth request');
      assert.equal(authPeers.get(clientId), peer);
    };
    const connected = async (c: RawClient) => {
      const ack = (await c.waitPacket((p) => p.cmd === 'connack', 'CONNACK')) as { reasonCode?: number };
      assert.equal(ack.reasonCode ?? 0, 0);
    };

    test("v1 header then CONNECT in one write: the admin API and the auth request see the client's address", async () => {
      const c = await viaLoadBalancer();
      c.send(Buffer.concat([v1('203.0.113.7', 4242), connectPacket(id('v1'))]));
      await connected(c);
      const j = await clientInfo(id('v1'));
      assert.equal(j.peer, '203.0.113.7:4242');
      assert.equal(j.listener, 'tcp');
      await authSaw(id('v1'), '203.0.113.7:4242');
    });

    test('v2 TCP6 header sent byte by byte, then CONNECT', async () => {
      const c = await viaLoadBalancer();
      const h = v2Tcp6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99], 5555);
      for (const b of h) c.send([b]);
      c.send(connectPacket(id('v2')));
      await connected(c);
      assert.equal((await clientInfo(id('v2'))).peer, '2001:db8::99:5555');
      await authSaw(id('v2'), '2001:db8::99:5555');
    });

    test('v2 LOCAL (a health check): the connection keeps its own address', async () => {
      const c = await viaLoadBalancer();
      c.send(Buffer.concat([v2Local(), connectPacket(id('local'))]));
      await connected(c);
      assert.match((await clientInfo(id('local'))).peer, new RegExp(`^(::ffff:)?${LB.replace(/\./g, '\\.')}:\\d+$`));
    });

    test('TLS: v1 header, then the TLS handshake, then CONNECT', async () => {
      const port = listenerPorts(f.broker, gw()).tls!;
      const raw = await RawClient.open(port, 5, { localAddress: LB });
      f.raws.push(raw);
      raw.socket.removeAllListeners('data'); // TLS records, not MQTT: the TLS client reads them
      raw.send(v1('198.51.100.20', 61000));
      const sock = tls.connect({ socket: raw.socket, ca: readFileSync(certs.caFile), servername: 'localhost' });
      await new Promise<void>((resolve, reject) => (sock.once('secureConnect', () => resolve()), sock.once('error', reject)));
      const c = RawClient.over(sock);
      f.raws.push(c);
      c.send(connectPacket(id('tls')));
      await connected(c);
      const j = await clientInfo(id('tls'));
      assert.equal(j.peer, '198.51.100.20:61000');
      assert.equal(j.listener, 'tls');
    });

    test('a trusted source without a header and a malformed header are closed and counted; the broker serves on', async () => {
      const bare = await viaLoadBalancer();
      bare.send(connectPacket(id('bare')));
      assert.equal(await bare.waitClosed(), true, 'no header from the load balancer: closed');
      assert.equal(bare.packets.length, 0);
      await waitForMetric(f.broker, gw(), 'shardmq_gateway_events_total', 'what="proxy_header_missing"', (v) => v >= 1);
      const bad = await viaLoadBalancer();
      bad.send(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n'));
      assert.equal(await bad.waitClosed(), true, 'malformed: closed');
      await waitForMetric(f.broker, gw(), 'shardmq_gateway_events_total', 'what="proxy_header_malformed"', (v) => v >= 1);
      const ok = await viaLoadBalancer();
      ok.send(Buffer.concat([v1('192.0.2.1', 1), connectPacket(id('after'))]));
      await connected(ok);
    });

    test('an untrusted source is a direct client; naming another address gets it closed', async () => {
      const direct = await RawClient.open(f.broker.ports[0]!, 5);
      f.raws.push(direct);
      direct.send(connectPacket(id('direct')));
      await connected(direct);
      assert.match((await clientInfo(id('direct'))).peer, /^(::ffff:)?127\.0\.0\.1:\d+$/);
      const spoof = await RawClient.open(f.broker.ports[0]!, 5);
      f.raws.push(spoof);
      spoof.send(Buffer.concat([v1('203.0.113.99', 1), connectPacket(id('spoof'))]));
      assert.equal(await spoof.waitClosed(), true);
      assert.equal(spoof.packets.length, 0);
      await waitForMetric(f.broker, gw(), 'shardmq_gateway_events_total', 'what="proxy_header_untrusted"', (v) => v >= 1);
      assert.equal((await adminRequest(adminPort(f.broker.httpPorts), 'GET', `/api/v1/clients/${id('spoof')}`, { token: TOKEN })).status, 404);
    });
  });
}
