import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt-packet';
import { ControlType, GwOut, type ControlItem, type PublishItem } from '../../common/src/envelope/gateway-out.js';
import type { ProtocolVersion } from '../../common/src/envelope/session-in.js';
import { createConnState, type ConnState } from '../../gateway/src/protocol/conn-state.js';
import { encodeControl } from '../../gateway/src/protocol/encode-control.js';
import { encodeOwnPacket, encodePublishWithin } from '../../gateway/src/protocol/max-packet-size.js';
import { decodePacket, msg } from '../support/session-core-harness.js';

/**
 * The gateway checks the client's Maximum Packet Size on the exact bytes it writes
 * [MQTT-3.1.2-24] (5.0), topic alias included, and encodes the owner's control items.
 */

function conn(maxPacketBytes: number, aliasMax = 0): ConnState {
  const c = createConnState(1, 'test', '', 0);
  c.proto = 5;
  c.clientMaxPacketBytes = maxPacketBytes;
  c.clientAliasMax = aliasMax;
  return c;
}

const item = (topic: string, payload: string, o: Partial<PublishItem> = {}): PublishItem => ({
  kind: GwOut.Publish,
  connId: 1,
  epoch: 1,
  packetId: 7,
  qos: 1,
  dup: false,
  retain: false,
  subIds: [],
  message: msg(topic, payload, 1),
  ...o,
});

/** Size of the PUBLISH mqtt-packet makes for these properties (the reference encoder). */
function refSize(topic: string, payload: string, properties: Record<string, unknown>): number {
  return mqtt.generate({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, messageId: 7, dup: false, retain: false, properties } as mqtt.IPublishPacket, { protocolVersion: 5 }).length;
}

test('a PUBLISH that fits exactly is written; one byte more is not', () => {
  const size = refSize('t/x', 'hello', { subscriptionIdentifier: 300 });
  assert.equal(encodePublishWithin(conn(size), item('t/x', 'hello', { subIds: [300] }), 0)?.length, size);
  assert.equal(encodePublishWithin(conn(size - 1), item('t/x', 'hello', { subIds: [300] }), 0), undefined);
});

for (const over of [1, 2, 3]) {
  test(`[MQTT-3.1.2-24] a PUBLISH that would set a topic alias and is ${over} byte(s) over the limit goes out without the alias, within the limit`, () => {
    const aliased = refSize('sensors/kitchen/temperature', '21.5', { topicAlias: 1 });
    const c = conn(aliased - over, 4);
    const bytes = encodePublishWithin(c, item('sensors/kitchen/temperature', '21.5'), 0);
    assert.ok(bytes, 'still delivered: the topic without an alias fits');
    assert.ok(bytes.length <= aliased - over, `${bytes.length} bytes written, limit ${aliased - over}`);
    const p = decodePacket(bytes, 5) as mqtt.IPublishPacket;
    assert.equal(p.topic, 'sensors/kitchen/temperature');
    assert.equal(p.properties?.topicAlias, undefined, 'no alias the client would have to learn');
    assert.equal(c.aliasesOut.size, 0, 'the alias was taken back: the next PUBLISH cannot use an alias the client never saw');
  });
}

test('a topic alias that fits is assigned once and then used with an empty topic; the limit holds for every packet', () => {
  const aliased = refSize('a/b', 'x', { topicAlias: 1 });
  const c = conn(aliased, 4);
  const first = decodePacket(encodePublishWithin(c, item('a/b', 'x'), 0)!, 5) as mqtt.IPublishPacket;
  const second = decodePacket(encodePublishWithin(c, item('a/b', 'x'), 0)!, 5) as mqtt.IPublishPacket;
  assert.deepEqual([first.topic, first.properties?.topicAlias], ['a/b', 1]);
  assert.deepEqual([second.topic, second.properties?.topicAlias], ['', 1]);
});

test('a PUBLISH too large even without an alias is not written, and assigns no alias', () => {
  const plain = refSize('a/b', 'payload', {});
  const c = conn(plain - 1, 4);
  assert.equal(encodePublishWithin(c, item('a/b', 'payload'), 0), undefined);
  assert.equal(c.aliasesOut.size, 0);
  // A later, smaller message on the same topic gets alias 1: the numbering did not move.
  const p = decodePacket(encodePublishWithin(c, item('a/b', 'p'), 0)!, 5) as mqtt.IPublishPacket;
  assert.equal(p.properties?.topicAlias, 1);
});

test('properties count toward the size (user properties, expiry, subscription identifiers)', () => {
  const it = item('t', 'p', { message: msg('t', 'p', 1, { props: { userProperties: { k: 'v'.repeat(120) } } }) });
  assert.equal(encodePublishWithin(conn(100), it, 0), undefined);
  assert.ok(encodePublishWithin(conn(200), it, 0));
});

test('no limit (0): everything is written', () => {
  assert.ok(encodePublishWithin(conn(0, 2), item('t', 'x'.repeat(100_000)), 0));
});

test('a packet the gateway makes itself leaves out a Reason String that would not fit [MQTT-3.14.2-3], [MQTT-3.2.2-19] (5.0)', () => {
  const disconnect = { cmd: 'disconnect', reasonCode: 0x95, properties: { reasonString: 'Packet too large' } } as mqtt.Packet;
  const full = mqtt.generate(disconnect, { protocolVersion: 5 }).length;
  assert.equal(encodeOwnPacket(conn(0), disconnect)?.length, full, 'no limit: sent whole');
  assert.equal(encodeOwnPacket(conn(full), disconnect)?.length, full, 'fits: sent whole');
  const small = encodeOwnPacket(conn(full - 1), disconnect)!;
  const d = decodePacket(small, 5) as mqtt.IDisconnectPacket;
  assert.deepEqual([d.reasonCode, d.properties?.reasonString], [0x95, undefined]);
  assert.equal(encodeOwnPacket(conn(small.length - 1), disconnect), undefined, 'too large even without it: not sent');
  const connack = { cmd: 'connack', sessionPresent: false, reasonCode: 0x87, properties: { reasonString: 'Not authorized' } } as mqtt.Packet;
  assert.equal((decodePacket(encodeOwnPacket(conn(8), connack)!, 5) as mqtt.IConnackPacket).reasonCode, 0x87);
  assert.equal(encodeOwnPacket(conn(1), { cmd: 'pingresp' } as mqtt.Packet), undefined, 'PINGRESP is 2 bytes');
});

// The owner's control items, as the gateway encodes them, read back by mqtt-packet's parser.
const control = (type: ControlType, codes: number[]): ControlItem => ({ kind: GwOut.Control, connId: 1, epoch: 1, type, packetId: 0x1234, codes });
const CMD: Record<number, string> = { 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp', 9: 'suback', 11: 'unsuback' };

for (const proto of [3, 4, 5] as ProtocolVersion[]) {
  for (const type of [ControlType.PubAck, ControlType.PubRec, ControlType.PubRel, ControlType.PubComp]) {
    // The reason codes each packet may carry (5.0 sections 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1).
    for (const rc of type === ControlType.PubRel || type === ControlType.PubComp ? [0, 0x92] : [0, 0x10, 0x80]) {
      test(`${CMD[type]} v${proto} rc 0x${rc.toString(16)}: a valid packet with the packet id, the reason code only in 5.0`, () => {
        const p = decodePacket(encodeControl(proto, control(type, [rc])), proto) as mqtt.IPubackPacket;
        assert.equal(p.cmd, CMD[type]);
        assert.equal(p.messageId, 0x1234);
        assert.equal(p.reasonCode ?? 0, proto === 5 ? rc : 0);
      });
    }
  }
  test(`SUBACK and UNSUBACK v${proto}: codes as the version allows [MQTT-3.9.3-2] (3.1.1), [MQTT-3.11.3-1] (5.0)`, () => {
    const codes = Array.from({ length: 200 }, (_, i) => [0, 1, 2, 0x87, 0x97][i % 5]!);
    const sub = decodePacket(encodeControl(proto, control(ControlType.SubAck, codes)), proto) as mqtt.ISubackPacket;
    assert.deepEqual(sub.granted, proto === 5 ? codes : codes.map((c) => (c >= 0x80 ? 0x80 : c)));
    assert.equal(sub.messageId, 0x1234);
    const unsub = decodePacket(encodeControl(proto, control(ControlType.UnsubAck, [0, 0x11])), proto) as mqtt.IUnsubackPacket;
    assert.equal(unsub.messageId, 0x1234);
    if (proto === 5) assert.deepEqual((unsub as unknown as { granted: number[] }).granted, [0, 0x11]);
  });
}

test("the gateway's own PUBACK (every QoS 1 PUBLISH): the packet id and, in 5.0, the reason code, read back by mqtt-packet; within the client's limit", () => {
  for (const proto of [3, 4, 5] as ProtocolVersion[]) {
    for (const id of [1, 0xff, 0x100, 0x1234, 0xffff]) {
      for (const rc of proto === 5 ? [undefined, 0, 0x10, 0x87, 0x97] : [undefined]) {
        const c = conn(0);
        c.proto = proto;
        const bytes = encodeOwnPacket(c, { cmd: 'puback', messageId: id, ...(rc === undefined ? {} : { reasonCode: rc }) } as mqtt.Packet)!;
        const p = decodePacket(bytes, proto) as mqtt.IPubackPacket;
        assert.equal(p.cmd, 'puback');
        assert.equal(p.messageId, id);
        assert.equal(p.reasonCode ?? 0, rc ?? 0, `v${proto} id ${id} rc ${rc}`);
        // [MQTT-3.1.2-24] (5.0): one byte over the client's limit, and it is not written.
        c.clientMaxPacketBytes = bytes.length;
        assert.deepEqual(encodeOwnPacket(c, { cmd: 'puback', messageId: id, ...(rc === undefined ? {} : { reasonCode: rc }) } as mqtt.Packet), bytes);
        c.clientMaxPacketBytes = bytes.length - 1;
        assert.equal(encodeOwnPacket(c, { cmd: 'puback', messageId: id, ...(rc === undefined ? {} : { reasonCode: rc }) } as mqtt.Packet), undefined);
      }
    }
  }
});
