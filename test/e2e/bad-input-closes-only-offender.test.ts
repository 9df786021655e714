import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, publish, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';
import { RawClient, mqttString, rawPacket } from '../support/raw-mqtt.js';

/**
 * Issue 2 acceptance: bad input closes only the offending connection. Each test sends one
 * protocol violation on its own raw socket and checks (a) that socket is closed, with the
 * MQTT 5 DISCONNECT / CONNACK reason code the spec names, and (b) a bystander connected
 * before, on the same gateway, still publishes and receives afterwards.
 */

const CONNECT_TIMEOUT_MS = 1000;

function disconnectCode(c: RawClient): number | undefined {
  const d = c.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
  return d ? (d.reasonCode ?? 0) : undefined;
}

function connackCode(c: RawClient): number | undefined {
  const a = c.packets.find((p) => p.cmd === 'connack') as { reasonCode?: number; returnCode?: number } | undefined;
  return a ? (a.reasonCode ?? a.returnCode) : undefined;
}

/** A PUBLISH QoS 0 with raw topic bytes (so tests can send NUL, wildcards or invalid UTF-8). */
function rawPublish(topic: Buffer | string, payload = 'x', v5 = true): Buffer {
  return rawPacket(0x30, Buffer.concat([mqttString(topic), v5 ? Buffer.from([0]) : Buffer.alloc(0), Buffer.from(payload)]));
}

for (const mode of MODES) {
  describe(`bad input closes only the offending connection (${mode})`, () => {
    let broker: Broker;
    let port: number;
    const pool = new ClientPool();
    const raws: RawClient[] = [];
    let bystander: MqttClient;
    let got: Received[];
    let seq = 0;

    const raw = async (v: 3 | 4 | 5 = 5) => {
      const c = await RawClient.open(port, v);
      raws.push(c);
      return c;
    };
    const rawConnected = async (id: string, v: 3 | 4 | 5 = 5) => {
      const c = await RawClient.connected(port, `${mode}-${id}`, v);
      raws.push(c);
      return c;
    };

    /** The bystander still publishes (QoS 1, acknowledged) and receives its own message. */
    const assertBystanderWorks = async () => {
      const payload = `still-alive-${++seq}`;
      await publish(bystander, `bystander/${mode}/echo`, payload, { qos: 1 });
      await waitFor(() => got.some((g) => g.payload.toString() === payload), `bystander message ${payload}`);
      assert.equal(bystander.connected, true, 'the bystander is still connected');
    };

    before(async () => {
      broker = await startBroker(mode, { env: { SHARDMQ_MQTT_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) } });
      port = broker.ports[0]!;
      bystander = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `bystander-${mode}` });
      got = collect(bystander);
      await subscribe(bystander, `bystander/${mode}/echo`, { qos: 1 });
      await assertBystanderWorks();
    });
    after(async () => {
      for (const r of raws) r.destroy();
      await pool.closeAll();
      await broker?.stop();
    });

    test('malformed bytes (reserved packet type 0) after CONNECT: closed with DISCONNECT 0x81 [MQTT-4.13.1-1]', async () => {
      const c = await rawConnected('malformed');
      c.send([0x00, 0x00]);
      assert.equal(await c.waitClosed(), true, 'offender closed');
      assert.equal(disconnectCode(c), 0x81);
      await assertBystanderWorks();
    });

    test('malformed fixed-header flags (SUBSCRIBE with flags 0000) are a malformed packet [MQTT-3.8.1-1]', async () => {
      const c = await rawConnected('badflags');
      const body = Buffer.concat([Buffer.from([0, 1, 0]), mqttString('a/b'), Buffer.from([1])]);
      c.send(rawPacket(0x80, body));
      assert.equal(await c.waitClosed(), true, 'offender closed');
      assert.equal(
        c.packets.some((p) => p.cmd === 'suback'),
        false,
        'no SUBACK for a malformed SUBSCRIBE',
      );
      await assertBystanderWorks();
    });

    test('garbage before CONNECT closes the socket without any answer', async () => {
      const c = await raw();
      c.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      assert.equal(await c.waitClosed(), true, 'offender closed');
      assert.equal(c.packets.length, 0);
      await assertBystanderWorks();
    });

    test('a Remaining Length announcing 256 MB is refused from the 5-byte header, before any body [MQTT-3.2.2-24]', async () => {
      const c = await rawConnected('huge');
      const before = c.bytesSent;
      c.send([0x30, 0xff, 0xff, 0xff, 0x7f]); // PUBLISH, Remaining Length 268435455
      assert.equal(await c.waitClosed(), true, 'offender closed while the body was never sent');
      assert.equal(c.bytesSent - before, 5, 'only the fixed header was sent');
      assert.equal(disconnectCode(c), 0x95, 'MQTT 5: DISCONNECT Packet too large');
      await assertBystanderWorks();
    });

    test('a Remaining Length above the maximum packet size in a CONNECT is refused before buffering', async () => {
      const c = await raw(4);
      c.send([0x10, 0xff, 0xff, 0xff, 0x7f]);
      assert.equal(await c.waitClosed(), true, 'offender closed');
      assert.equal(
        c.packets.some((p) => p.cmd === 'connack' && ((p as { returnCode?: number }).returnCode ?? 0) === 0),
        false,
      );
      await assertBystanderWorks();
    });

    test('a 5th Remaining Length byte is a malformed packet [MQTT-1.5.5 / 2.1.4]', async () => {
      const c = await rawConnected('rl5');
      c.send([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]);
      assert.equal(await c.waitClosed(), true, 'offender closed');
      assert.equal(disconnectCode(c), 0x81);
      await assertBystanderWorks();
    });

    for (const topic of ['a/+', '#', 'a/#', '+']) {
      test(`PUBLISH to wildcard topic ${topic} closes the publisher (5.0: DISCONNECT 0x90) [MQTT-3.3.2-2]`, async () => {
        const c = await rawConnected(`wild-${topic}`);
        c.send(rawPublish(topic));
        assert.equal(await c.waitClosed(), true, 'offender closed');
        assert.equal(disconnectCode(c), 0x90);
        await assertBystanderWorks();
      });
    }

    test('MQTT 3.1.1 PUBLISH to a wildcard topic closes the publisher [MQTT-3.3.2-2]', async () => {
      const c = await rawConnected('wild-v4', 4);
      c.send(rawPublish('x/#', 'x', false));
      assert.equal(await c.waitClosed(), true, 'offender closed');
      await assertBystanderWorks();
    });

    test('PUBLISH with a wildcard topic is not delivered to a matching subscriber', async () => {
      const watcher = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-wild-watch` });
      const seen = collect(watcher);
      await subscribe(watcher, '#', { qos: 0 });
      const c = await rawConnected('wild-deliver');
      c.send(rawPublish('wild/+', 'must-not-arrive'));
      assert.equal(await c.waitClosed(), true, 'offender closed');
      await assertBystanderWorks();
      assert.equal(
        seen.some((g) => g.payload.toString() === 'must-not-arrive'),
        false,
      );
    });

    test('a second CONNECT is a protocol error: closed with DISCONNECT 0x82 [MQTT-3.1.0-2]', async () => {
      const c = await rawConnected('second-connect');
      c.sendPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: `${mode}-second-connect`, clean: true, keepalive: 0 } as Packet);
      assert.equal(await c.waitClosed(), true, 'offender closed');
      assert.equal(disconnectCode(c), 0x82);
      assert.equal(c.packets.filter((p) => p.cmd === 'connack').length, 1, 'no second CONNACK');
      await assertBystanderWorks();
    });

    test('a second CONNECT on MQTT 3.1.1 closes the connection [MQTT-3.1.0-2]', async () => {
      const c = await rawConnected('second-connect-v4', 4);
      c.sendPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `${mode}-second-connect-v4`, clean: true, keepalive: 0 } as Packet, 4);
      assert.equal(await c.waitClosed(), true, 'offender closed');
      assert.equal(c.packets.filter((p) => p.cmd === 'connack').length, 1, 'no second CONNACK');
      await assertBystanderWorks();
    });

    test('PUBLISH before CONNECT closes the socket and is not routed [MQTT-3.1.0-1]', async () => {
      const watcher = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-early-watch` });
      const seen = collect(watcher);
      await subscribe(watcher, `early/${mode}`, { qos: 0 });
      const c = await raw(4);
      c.sendPacket({ cmd: 'publish', topic: `early/${mode}`, payload: Buffer.from('before-connect'), qos: 0, retain: false, dup: false } as Packet, 4);
      assert.equal(await c.waitClosed(), true, 'offender closed');
      assert.equal(c.packets.length, 0, 'nothing sent back');
      await assertBystanderWorks();
      assert.equal(
        seen.some((g) => g.payload.toString() === 'before-connect'),
        false,
      );
    });

    test('SUBSCRIBE before CONNECT closes the socket without SUBACK [MQTT-3.1.0-1]', async () => {
      const c = await raw(4);
      c.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'x/#', qos: 0 }] } as Packet, 4);
      assert.equal(await c.waitClosed(), true, 'offender closed');
      assert.equal(c.packets.length, 0, 'nothing sent back');
      await assertBystanderWorks();
    });

    test('CONNECT with an unsupported protocol level gets CONNACK 0x01 and is closed [MQTT-3.1.2-2]', async () => {
      const c = await raw(4);
      // "MQTT", level 6, clean session, keepalive 60, client id "lvl6"
      const body = Buffer.concat([mqttString('MQTT'), Buffer.from([6, 0x02, 0, 60]), mqttString('lvl6')]);
      c.send(rawPacket(0x10, body));
      assert.equal(await c.waitClosed(), true, 'offender closed');
      assert.equal(connackCode(c), 0x01, '3.1.1 CONNACK "unacceptable protocol version"');
      await assertBystanderWorks();
    });

    test('CONNECT with a wrong protocol name is closed without acceptance [MQTT-3.1.2-1]', async () => {
      const c = await raw(4);
      const body = Buffer.concat([mqttString('MQXX'), Buffer.from([4, 0x02, 0, 60]), mqttString('badname')]);
      c.send(rawPacket(0x10, body));
      assert.equal(await c.waitClosed(), true, 'offender closed');
      assert.notEqual(connackCode(c), 0, 'not accepted');
      await assertBystanderWorks();
    });

    test('MQTT 3.1.1 empty client id with clean session 0 gets CONNACK 0x02 and is closed [MQTT-3.1.3-8]', async () => {
      const c = await raw(4);
      const body = Buffer.concat([mqttString('MQTT'), Buffer.from([4, 0x00, 0, 60]), mqttString('')]);
      c.send(rawPacket(0x10, body));
      assert.equal(await c.waitClosed(), true, 'offender closed');
      assert.equal(connackCode(c), 0x02, 'identifier rejected');
      await assertBystanderWorks();
    });

    test('NUL in a PUBLISH topic is a malformed packet: closed (5.0: DISCONNECT 0x81) [MQTT-1.5.4-2]', async () => {
      const c = await rawConnected('nul');
      c.send(rawPublish(Buffer.from('a/\u0000b', 'utf8')));
      assert.equal(await c.waitClosed(), true, 'offender closed');
      const rc = disconnectCode(c);
      assert.ok(rc === 0x81 || rc === 0x90, `DISCONNECT 0x81 (or 0x90), got ${rc}`);
      await assertBystanderWorks();
    });

    test('invalid UTF-8 in a PUBLISH topic is a malformed packet: closed (5.0: DISCONNECT 0x81) [MQTT-1.5.4-1]', async () => {
      const c = await rawConnected('utf8');
      c.send(rawPublish(Buffer.from([0x61, 0x2f, 0xff, 0xfe, 0x62])));
      assert.equal(await c.waitClosed(), true, 'offender closed');
      const rc = disconnectCode(c);
      assert.ok(rc === 0x81 || rc === 0x90, `DISCONNECT 0x81 (or 0x90), got ${rc}`);
      await assertBystanderWorks();
    });

    test('NUL in a SUBSCRIBE filter is refused (5.0: SUBACK 0x8F or closed), never subscribed', async () => {
      const c = await rawConnected('nul-sub');
      c.sendPacket({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'nul\u0000/#', qos: 0 }] } as Packet);
      const closed = await c.waitClosed(3000);
      if (!closed) {
        const ack = (await c.waitPacket((p) => p.cmd === 'suback', 'SUBACK')) as { granted: number[] };
        assert.ok(ack.granted[0]! >= 0x80, `refused, got 0x${ack.granted[0]!.toString(16)}`);
      }
      await assertBystanderWorks();
    });

    for (const v of [4, 5] as const) {
      test(`MQTT ${v === 5 ? '5.0' : '3.1.1'}: a connection closed for a protocol error has its Will published [MQTT-3.1.2-8]`, async () => {
        const willTopic = `bad-will/${mode}/v${v}`;
        const watcher = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-bad-will-watch-${v}` });
        const wills = collect(watcher);
        await subscribe(watcher, willTopic, { qos: 1 });
        const c = await RawClient.connected(port, `${mode}-bad-will-${v}`, v, {
          will: { topic: willTopic, payload: Buffer.from('protocol-error-will'), qos: 1, retain: false },
        });
        raws.push(c);
        c.send(rawPublish('bad/+', 'x', v === 5));
        assert.equal(await c.waitClosed(), true, 'offender closed');
        await waitFor(() => wills.length >= 1, 'the Will of the offender');
        assert.equal(wills[0]!.payload.toString(), 'protocol-error-will');
        await assertBystanderWorks();
      });
    }

    test('a client that connects and sends nothing is closed after the connect timeout', async () => {
      const c = await raw(4);
      assert.equal(await c.waitClosed(CONNECT_TIMEOUT_MS * 10), true, 'silent socket closed');
      assert.equal(c.packets.length, 0);
      await assertBystanderWorks();
    });

    test('a client that sends half a CONNECT and stops is closed after the connect timeout', async () => {
      const c = await raw(4);
      c.send([0x10, 0x20, 0x00, 0x04]); // announces 32 bytes, sends 2
      assert.equal(await c.waitClosed(CONNECT_TIMEOUT_MS * 10), true, 'stalled socket closed');
      await assertBystanderWorks();
    });
  });
}
