import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Packet } from 'mqtt-packet';
import { brokerFixture } from '../support/broker-fixture.js';
import { metricOf } from '../support/broker-metrics.js';
import { collect, publish, qos1RoundTrip, subackCodes, subscribe, waitFor } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * Topics at mqtt.maxTopicLevels (default 32) work; one level more is refused and counted:
 * a topic name closes the publisher (5.0 DISCONNECT 0x90 Topic Name invalid), a filter gets
 * SUBACK 0x8F Topic Filter invalid (3.1.1: 0x80) and the connection stays.
 */

const DEFAULT_LEVELS = 32;
const levels = (n: number, prefix = 'lv') => [prefix, ...Array.from({ length: n - 1 }, (_, i) => String(i + 1))].join('/');

describe('topic level limit at its default (single)', () => {
  const f = brokerFixture('single');
  const { pool, raws } = f;
  const events = (what: string) => metricOf(f.broker, 'shardmq', 'shardmq_gateway_events_total', `what="${what}"`);

  test('a filter and a topic of exactly 32 levels work end to end', async () => {
    const sub = await pool.connect(f.broker.url(), { protocolVersion: 5, clientId: 'lv-sub' });
    const got = collect(sub);
    await subscribe(sub, levels(DEFAULT_LEVELS), { qos: 1 });
    const pub = await pool.connect(f.broker.url(), { protocolVersion: 5, clientId: 'lv-pub' });
    await publish(pub, levels(DEFAULT_LEVELS), 'deep', { qos: 1 });
    await waitFor(() => got.length === 1, 'the 32-level message');
    assert.equal(got[0]!.topic, levels(DEFAULT_LEVELS));
  });

  test('a filter of 33 levels gets SUBACK 0x8F (3.1.1: 0x80) among granted ones, counted; the client stays connected', async () => {
    const before = await events('topic_filter_invalid');
    const c5 = await pool.connect(f.broker.url(), { protocolVersion: 5, clientId: 'lv-filter-5' });
    assert.deepEqual(await subackCodes(c5, [levels(DEFAULT_LEVELS, 'f5'), levels(DEFAULT_LEVELS + 1, 'f5')]), [1, 0x8f]);
    const c4 = await pool.connect(f.broker.url(), { protocolVersion: 4, clientId: 'lv-filter-4' });
    assert.deepEqual(await subackCodes(c4, levels(DEFAULT_LEVELS + 1, 'f4')), [0x80]);
    assert.equal(await events('topic_filter_invalid'), before + 2);
    assert.ok(c5.connected && c4.connected);
  });

  test('a PUBLISH to 33 levels closes the publisher (5.0 DISCONNECT 0x90, 3.1.1 closed), is not delivered, counted; a bystander is served', async () => {
    const before = await events('topic_name_invalid');
    const sub = await pool.connect(f.broker.url(), { protocolVersion: 5, clientId: 'lv-sub-all' });
    const got = collect(sub);
    await subscribe(sub, 'lv/#', { qos: 1 });
    const c5 = await RawClient.connected(f.broker.ports[0]!, 'lv-pub-5', 5);
    raws.push(c5);
    c5.sendPacket({ cmd: 'publish', topic: levels(DEFAULT_LEVELS + 1), payload: Buffer.from('too deep'), qos: 1, messageId: 1, dup: false, retain: false } as Packet);
    assert.equal(await c5.waitClosed(), true);
    assert.equal((c5.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined)?.reasonCode, 0x90);
    const c4 = await RawClient.connected(f.broker.ports[0]!, 'lv-pub-4', 4);
    raws.push(c4);
    c4.sendPacket({ cmd: 'publish', topic: levels(DEFAULT_LEVELS + 1), payload: Buffer.from('too deep'), qos: 0, dup: false, retain: false } as Packet, 4);
    assert.equal(await c4.waitClosed(), true);
    assert.equal(await events('topic_name_invalid'), before + 2);
    await qos1RoundTrip(sub, 'lv/bystander');
    assert.ok(
      got.some((g) => g.topic === 'lv/bystander'),
      'the bystander message arrived',
    );
    assert.ok(!got.some((g) => g.topic === levels(DEFAULT_LEVELS + 1)), 'the refused ones did not');
  });
});
