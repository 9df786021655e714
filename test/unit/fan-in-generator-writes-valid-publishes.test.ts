import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { publishTemplate, writeWindow } from '../../loadtest/src/scenarios/fan-in-raw-clients.js';
import { readStamp } from '../../loadtest/src/payload-stamp.js';

// The fan-in generator's bare publishers write pre-encoded PUBLISH packets: each must be what an
// MQTT 3.1.1 parser reads back, with the stamp of its publisher and sequence.

test('a window of stamped QoS 0 PUBLISHes parses back, topic and stamp intact, also past a 2-byte Remaining Length', () => {
  for (const [topic, payloadBytes] of [
    ['bench/t/p7/data', 64],
    ['bench/long/p1/data', 300],
    ['x', 1],
  ] as const) {
    const writes: Buffer[] = [];
    const socket = { write: (b: Buffer) => writes.push(b) } as unknown as Socket;
    writeWindow(socket, publishTemplate(topic, payloadBytes), 7, 40, 45, 1_700_000_000_123.5);
    assert.equal(writes.length, 1, 'one socket write per window');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const got: mqttPacket.IPublishPacket[] = [];
    parser.on('packet', (p) => got.push(p as mqttPacket.IPublishPacket));
    parser.on('error', (err) => assert.fail(err));
    parser.parse(writes[0]!);
    assert.equal(got.length, 5);
    const stamp = { publisher: 0, seq: 0, sentAtMs: 0 };
    got.forEach((p, i) => {
      assert.equal(p.cmd, 'publish');
      assert.equal(p.topic, topic);
      assert.equal(p.qos, 0);
      assert.equal((p.payload as Buffer).length, Math.max(16, payloadBytes));
      assert.ok(readStamp(p.payload as Buffer, stamp));
      assert.deepEqual(stamp, { publisher: 7, seq: 40 + i, sentAtMs: 1_700_000_000_123.5 });
    });
  }
});
