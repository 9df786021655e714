import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, publish, subscribe, waitFor } from '../support/mqtt-clients.js';

const run = promisify(execFile);

for (const mode of MODES) {
  describe(`publish/subscribe end to end (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    before(async () => {
      broker = await startBroker(mode);
    });
    after(async () => {
      await pool.closeAll();
      await broker?.stop();
    });

    for (const protocolVersion of [4, 5] as const) {
      test(`MQTT ${protocolVersion === 4 ? '3.1.1' : '5.0'}: QoS 0 and 1 reach a wildcard subscriber on another gateway`, async () => {
        const sub = await pool.connect(broker.url(1), { protocolVersion, clientId: `sub-${protocolVersion}` });
        const got = collect(sub);
        await subscribe(sub, `pv${protocolVersion}/+/temp`, { qos: 1 });
        const pub = await pool.connect(broker.url(0), { protocolVersion, clientId: `pub-${protocolVersion}` });
        await publish(pub, `pv${protocolVersion}/dev1/temp`, 'q0', { qos: 0 });
        await publish(pub, `pv${protocolVersion}/dev2/temp`, 'q1', { qos: 1 });
        await publish(pub, `pv${protocolVersion}/dev2/other`, 'nope', { qos: 1 });
        await waitFor(() => got.length >= 2, 'two messages');
        const byPayload = new Map(got.map((g) => [g.payload.toString(), g]));
        assert.equal(byPayload.get('q0')?.topic, `pv${protocolVersion}/dev1/temp`);
        assert.equal(byPayload.get('q1')?.packet.qos, 1);
        assert.equal(byPayload.has('nope'), false);
      });
    }

    test('mosquitto_pub and mosquitto_sub (MQTT 5) talk through the broker', async () => {
      const port = String(broker.ports[broker.ports.length - 1]);
      const subP = run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv5', '-t', 'mosq/#', '-C', '1', '-W', '15', '-v', '-q', '1']);
      // Publish until the subscriber (started in parallel) has its subscription in place.
      let out: { stdout: string } | undefined;
      const pubPort = String(broker.ports[0]);
      const pubLoop = (async () => {
        for (let i = 0; i < 50 && !out; i++) {
          await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', pubPort, '-t', 'mosq/a', '-m', 'hello-mosquitto', '-q', '1']);
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      out = await subP;
      await pubLoop;
      assert.equal(out.stdout.trim().split('\n')[0], 'mosq/a hello-mosquitto');
    });

    test('messages from one publisher on one topic arrive in order [MQTT-4.6.0-6]', async () => {
      const sub = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: 'order-sub' });
      const got = collect(sub);
      await subscribe(sub, 'order/t', { qos: 1 });
      const pub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: 'order-pub' });
      const n = 300;
      await Promise.all(Array.from({ length: n }, (_, i) => publish(pub, 'order/t', String(i), { qos: 1 })));
      await waitFor(() => got.length >= n, `${n} messages`);
      assert.deepEqual(
        got.map((g) => Number(g.payload.toString())),
        Array.from({ length: n }, (_, i) => i),
      );
    });
  });
}
