import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Packet } from 'mqtt-packet';
import { MODES } from '../support/broker.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { metricOf, waitForMetric } from '../support/broker-metrics.js';
import { collect, qos1RoundTrip, sleep, subscribe, waitFor } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * A retained-message flood from one client: router.maxRetainedMessages and
 * router.maxRetainedBytes bound the store. A retained PUBLISH beyond them is refused whole:
 * MQTT 5 QoS 1 gets PUBACK 0x97 (Quota exceeded) and QoS 2 PUBREC 0x97; QoS 0 and 3.1.1 are
 * dropped (3.1.1 QoS 1/2 are still acknowledged, so they are not resent forever); each refusal
 * is counted.
 */

const MAX_MESSAGES = 20;
const MAX_BYTES = 2000;
const FLOOD = 30;

/** Retained QoS 1 PUBLISH over a raw connection; resolves with the PUBACK reason code (0 for 3.1.1). */
async function retainedPuback(c: RawClient, v: 4 | 5, id: number, topic: string, payload: Buffer): Promise<number> {
  c.sendPacket({ cmd: 'publish', topic, payload, qos: 1, messageId: id, retain: true, dup: false } as Packet, v);
  const ack = (await c.waitPacket((p) => p.cmd === 'puback' && p.messageId === id, `PUBACK ${id}`)) as { reasonCode?: number };
  return ack.reasonCode ?? 0;
}

for (const mode of MODES) {
  describe(`retained store quota (${mode})`, () => {
    const f = brokerFixture(mode, { env: { SHARDMQ_ROUTER_MAX_RETAINED_MESSAGES: String(MAX_MESSAGES), SHARDMQ_ROUTER_MAX_RETAINED_BYTES: String(MAX_BYTES) } });
    const { pool, raws } = f;
    const router = () => (mode === 'single' ? 'shardmq' : 'router');

    test('MQTT 5: retained publishes beyond router.maxRetainedMessages get PUBACK 0x97, are not delivered, and are counted', async () => {
      const live = await pool.connect(f.broker.url(0), { protocolVersion: 5, clientId: `${mode}-rq-live` });
      const got = collect(live);
      await subscribe(live, 'rq/#', { qos: 1 });
      const c = await RawClient.connected(f.broker.ports[0]!, `${mode}-rq-flood`, 5);
      raws.push(c);
      const codes: number[] = [];
      for (let i = 1; i <= FLOOD; i++) codes.push(await retainedPuback(c, 5, i, `rq/${i}`, Buffer.from(`value-${i}`)));
      assert.ok(
        codes.slice(0, MAX_MESSAGES).every((rc) => rc < 0x80),
        `the first ${MAX_MESSAGES} accepted: ${codes}`,
      );
      assert.deepEqual(codes.slice(MAX_MESSAGES), Array(FLOOD - MAX_MESSAGES).fill(0x97));
      assert.equal(c.closed, false, 'a refused retained message does not close the publisher');
      await waitFor(() => got.length >= MAX_MESSAGES, 'the accepted messages delivered');
      await sleep(300);
      assert.equal(got.length, MAX_MESSAGES, 'a refused message is not delivered either');
      assert.equal(await metricOf(f.broker, router(), 'shardmq_router_limit_hits_total', 'limit="maxRetainedMessages"'), FLOOD - MAX_MESSAGES);

      // Replacing a stored topic is not a new message; clearing one frees a place.
      assert.ok((await retainedPuback(c, 5, 100, 'rq/1', Buffer.from('replaced'))) < 0x80);
      assert.ok((await retainedPuback(c, 5, 101, 'rq/2', Buffer.alloc(0))) < 0x80);
      assert.ok((await retainedPuback(c, 5, 102, 'rq/new', Buffer.from('fits now'))) < 0x80);
      assert.equal(await retainedPuback(c, 5, 103, 'rq/another', Buffer.from('full again')), 0x97);
      // QoS 2 takes the same answer through the publisher's session: PUBREC 0x97.
      c.sendPacket({ cmd: 'publish', topic: 'rq/qos2', payload: Buffer.from('x'), qos: 2, messageId: 104, retain: true, dup: false } as Packet);
      const rec = (await c.waitPacket((p) => p.cmd === 'pubrec' && p.messageId === 104, 'PUBREC')) as { reasonCode?: number };
      assert.equal(rec.reasonCode, 0x97);
    });

    test('a retained publish that would pass router.maxRetainedBytes gets 0x97 too; a late subscriber sees exactly the stored messages', async () => {
      const c = await RawClient.connected(f.broker.ports[0]!, `${mode}-rq-bytes`, 5);
      raws.push(c);
      // Free one place, then offer a message too big for the byte bound.
      assert.ok((await retainedPuback(c, 5, 1, 'rq/3', Buffer.alloc(0))) < 0x80);
      assert.equal(await retainedPuback(c, 5, 2, 'rq/big', Buffer.alloc(MAX_BYTES, 1)), 0x97);
      assert.equal(await metricOf(f.broker, router(), 'shardmq_router_limit_hits_total', 'limit="maxRetainedBytes"'), 1);
      const late = await pool.connect(f.broker.url(1), { protocolVersion: 5, clientId: `${mode}-rq-late` });
      const got = collect(late);
      await subscribe(late, 'rq/#', { qos: 1 });
      await waitFor(() => got.length >= MAX_MESSAGES - 1, 'the retained messages');
      await sleep(300);
      const topics = got.map((g) => g.topic).sort();
      assert.equal(topics.length, MAX_MESSAGES - 1, `stored: ${topics}`);
      assert.ok(!topics.includes('rq/big') && !topics.includes('rq/another') && topics.includes('rq/new'));
    });

    test('QoS 0 and MQTT 3.1.1 retained publishes beyond the bound are dropped and counted; 3.1.1 QoS 1 and 2 are still acknowledged; others are served', async () => {
      const before = await metricOf(f.broker, router(), 'shardmq_router_limit_hits_total', 'limit="maxRetainedMessages"');
      const c = await RawClient.connected(f.broker.ports[0]!, `${mode}-rq-v4`, 4);
      raws.push(c);
      assert.equal(await retainedPuback(c, 4, 1, 'rq/v4/a', Buffer.from('x')), 0, 'a place was left by the byte test: accepted');
      assert.equal(await retainedPuback(c, 4, 2, 'rq/v4/b', Buffer.from('x')), 0, '3.1.1 has no refusal code: acknowledged');
      c.sendPacket({ cmd: 'publish', topic: 'rq/v4/c', payload: Buffer.from('x'), qos: 0, retain: true, dup: false } as Packet, 4);
      // 3.1.1 QoS 2: PUBREC and PUBCOMP as if accepted, so it is not resent forever.
      c.sendPacket({ cmd: 'publish', topic: 'rq/v4/d', payload: Buffer.from('x'), qos: 2, messageId: 3, retain: true, dup: false } as Packet, 4);
      await c.waitPacket((p) => p.cmd === 'pubrec' && p.messageId === 3, 'PUBREC');
      c.sendPacket({ cmd: 'pubrel', messageId: 3 } as Packet, 4);
      await c.waitPacket((p) => p.cmd === 'pubcomp' && p.messageId === 3, 'PUBCOMP');
      await waitForMetric(f.broker, router(), 'shardmq_router_limit_hits_total', 'limit="maxRetainedMessages"', (n) => n === before + 3);
      assert.equal(c.closed, false, 'the 3.1.1 publisher stays connected');
      const bystander = await pool.connect(f.broker.url(0), { protocolVersion: 5, clientId: `${mode}-rq-bystander` });
      await qos1RoundTrip(bystander, 'other/bystander');
    });
  });
}
