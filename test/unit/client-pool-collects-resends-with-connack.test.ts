import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import { ClientPool, waitFor, type Received } from '../support/mqtt-clients.js';

/**
 * A broker resuming a kept session writes the CONNACK and the resends it owes [MQTT-4.4.0-1]
 * together, and mqtt.js emits (and acknowledges) those PUBLISHes before the code awaiting the
 * CONNACK runs. A test that attached its listener after `await pool.connect()` missed them and
 * reported acknowledged messages as lost (the NATS node-kill test's intermittent "loss").
 * `pool.connect(url, opts, got)` collects from the first packet. A loopback fake broker sends
 * CONNACK and a DUP PUBLISH in one write, the worst case.
 */

const opts = { protocolVersion: 5 } as const;

/** A fake broker: answers CONNECT with CONNACK (session present) plus one resent PUBLISH in the same write; records the packets it gets. */
function fakeBroker(): Promise<{ server: Server; port: number; got: mqttPacket.Packet[] }> {
  const got: mqttPacket.Packet[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    const parser = mqttPacket.parser(opts);
    parser.on('packet', (p) => {
      got.push(p);
      if (p.cmd !== 'connect') return;
      const connack = mqttPacket.generate({ cmd: 'connack', sessionPresent: true, reasonCode: 0 }, opts);
      const resend = mqttPacket.generate({ cmd: 'publish', topic: 'kept/t', payload: Buffer.from('owed'), qos: 1, messageId: 7, dup: true, retain: false }, opts);
      s.write(Buffer.concat([connack, resend]));
    });
    s.on('data', (d) => parser.parse(d));
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0, got });
    }),
  );
}

describe('ClientPool.connect collects what arrives with the CONNACK', () => {
  const pool = new ClientPool();
  const servers: Server[] = [];
  after(async () => {
    await pool.closeAll();
    for (const s of servers) s.close();
  });

  test('a resend written together with the CONNACK is collected, and the client acknowledged it', async () => {
    const broker = await fakeBroker();
    servers.push(broker.server);
    const got: Received[] = [];
    await pool.connect(`mqtt://127.0.0.1:${broker.port}`, { ...opts, clientId: 'kept', clean: false }, got);
    await waitFor(() => broker.got.some((p) => p.cmd === 'puback' && p.messageId === 7), 'the PUBACK of the resend', 5000);
    assert.deepEqual(
      got.map((g) => [g.topic, g.payload.toString(), g.packet.dup]),
      [['kept/t', 'owed', true]],
      'the message the client acknowledged is in what the test saw',
    );
  });
});
