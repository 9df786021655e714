import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import mqtt, { type IConnectPacket, type IDisconnectPacket, type IPublishPacket, type ISubscribePacket, type IUnsubscribePacket, type Packet } from 'mqtt-packet';
import { Connection, connectionContext } from '../../gateway/src/connection.js';
import { ackFault } from '../../gateway/src/protocol/ack-fault.js';
import { connectFault } from '../../gateway/src/protocol/on-connect.js';
import { disconnectFault } from '../../gateway/src/protocol/on-disconnect.js';
import { publishFault } from '../../gateway/src/protocol/on-publish.js';
import { subscribeFault } from '../../gateway/src/protocol/on-subscribe.js';
import { unsubscribeFault } from '../../gateway/src/protocol/on-unsubscribe.js';
import { packetIdFault, stringFault } from '../../gateway/src/protocol/packet-fault.js';
import { ALLOWED_PROPS, propertiesFault } from '../../gateway/src/protocol/property-rules.js';
import { FakeSocket } from '../support/fake-socket.js';

/** The gateway's boundary checks, pure: which fields are refused, with 0x81 (malformed) or 0x82 (protocol error). */

const MALFORMED = 0x81;
const PROTOCOL_ERROR = 0x82;

test('[MQTT-2.2.1-3] packet identifiers: missing or short is malformed, 0 is a protocol error, 1..65535 pass', () => {
  assert.equal(packetIdFault(undefined)?.rc, MALFORMED);
  assert.equal(packetIdFault(-1)?.rc, MALFORMED);
  assert.equal(packetIdFault(65536)?.rc, MALFORMED);
  assert.equal(packetIdFault(0)?.rc, PROTOCOL_ERROR);
  assert.equal(packetIdFault(1), undefined);
  assert.equal(packetIdFault(65535), undefined);
});

test('[MQTT-1.5.4-1/2] strings: NUL and ill-formed UTF-8 (decoded as U+FFFD) are malformed', () => {
  assert.equal(stringFault('ok/ü'), undefined);
  assert.equal(stringFault('a\u0000b')?.rc, MALFORMED);
  assert.equal(stringFault(Buffer.from([0x61, 0xff]).toString('utf8'))?.rc, MALFORMED);
  assert.equal(stringFault(null)?.rc, MALFORMED);
});

test('MQTT 5 properties: kinds per packet type, data types, duplicates [MQTT-2.2.2-1]', () => {
  assert.equal(propertiesFault(undefined, ALLOWED_PROPS.ack), undefined);
  assert.equal(propertiesFault({ reasonString: 'x', userProperties: { a: ['1', '2'] } }, ALLOWED_PROPS.ack), undefined);
  assert.deepEqual(propertiesFault({ topicAlias: 3 }, ALLOWED_PROPS.ack), { rc: MALFORMED, what: 'property_not_allowed' });
  assert.deepEqual(propertiesFault({ topicAlias: [3, 4] }, ALLOWED_PROPS.publish), { rc: PROTOCOL_ERROR, what: 'property_duplicate' });
  assert.deepEqual(propertiesFault({ messageExpiryInterval: -1 }, ALLOWED_PROPS.publish), { rc: MALFORMED, what: 'property_invalid' });
  assert.deepEqual(propertiesFault({ subscriptionIdentifier: false }, ALLOWED_PROPS.subscribe), { rc: MALFORMED, what: 'property_invalid' });
  assert.deepEqual(propertiesFault({ correlationData: null }, ALLOWED_PROPS.publish), { rc: MALFORMED, what: 'property_invalid' });
  assert.equal(propertiesFault({ contentType: null }, ALLOWED_PROPS.publish)?.rc, MALFORMED);
  assert.equal(propertiesFault({ userProperties: { k: null } }, ALLOWED_PROPS.publish)?.rc, MALFORMED);
  assert.equal(propertiesFault({ userProperties: { 'k\u0000': 'v' } }, ALLOWED_PROPS.publish)?.rc, MALFORMED);
});

test('acknowledgements: a missing packet id (the crash of issue 8) and foreign properties are refused', () => {
  assert.equal(ackFault({}, 4)?.rc, MALFORMED);
  assert.equal(ackFault({ messageId: -1 }, 5)?.rc, MALFORMED);
  assert.equal(ackFault({ messageId: 0 }, 4)?.rc, PROTOCOL_ERROR);
  assert.equal(ackFault({ messageId: 9, reasonCode: 0x10, properties: { reasonString: 'r' } }, 5), undefined);
  assert.equal(ackFault({ messageId: 9, properties: { sessionExpiryInterval: 1 } }, 5)?.rc, MALFORMED);
});

test('PUBLISH: packet id at QoS > 0, DUP 0 at QoS 0 [MQTT-3.3.1-2], a Response Topic without wildcards [MQTT-3.3.2-14]', () => {
  const pub = (x: Partial<IPublishPacket>) => ({ cmd: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 0, dup: false, retain: false, ...x }) as IPublishPacket;
  assert.equal(publishFault(pub({}), true), undefined);
  assert.equal(publishFault(pub({ qos: 1 }), false)?.rc, MALFORMED);
  assert.equal(publishFault(pub({ qos: 2, messageId: 0 }), false)?.rc, PROTOCOL_ERROR);
  assert.equal(publishFault(pub({ dup: true }), false)?.rc, MALFORMED);
  assert.equal(publishFault(pub({ properties: { responseTopic: 'r/+' } }), true)?.rc, PROTOCOL_ERROR);
  assert.equal(publishFault(pub({ properties: { responseTopic: 'r/1', topicAlias: 2 } }), true), undefined);
  assert.equal(publishFault(pub({ properties: { sessionExpiryInterval: 2 } as never }), true)?.rc, MALFORMED);
});

test('SUBSCRIBE / UNSUBSCRIBE: packet id, at least one filter, Subscription Identifier 0 is a protocol error', () => {
  const sub = (x: Partial<ISubscribePacket>) => ({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }], ...x }) as ISubscribePacket;
  assert.equal(subscribeFault(sub({}), true), undefined);
  assert.equal(subscribeFault(sub({ messageId: -1 }), false)?.rc, MALFORMED);
  assert.equal(subscribeFault(sub({ subscriptions: [] }), true)?.rc, PROTOCOL_ERROR);
  assert.equal(subscribeFault(sub({ properties: { subscriptionIdentifier: 0 } }), true)?.rc, PROTOCOL_ERROR);
  assert.equal(subscribeFault(sub({ properties: { subscriptionIdentifier: [1, 2] as never } }), true)?.rc, PROTOCOL_ERROR);
  const unsub = (x: Partial<IUnsubscribePacket>) => ({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: ['a'], ...x }) as IUnsubscribePacket;
  assert.equal(unsubscribeFault(unsub({}), true), undefined);
  assert.equal(unsubscribeFault(unsub({ messageId: 0 }), true)?.rc, PROTOCOL_ERROR);
  assert.equal(unsubscribeFault(unsub({ unsubscriptions: [] }), true)?.rc, PROTOCOL_ERROR);
});

test('DISCONNECT: a server-only reason code from a client is a protocol error', () => {
  const d = (reasonCode: number) => ({ cmd: 'disconnect', reasonCode }) as IDisconnectPacket;
  assert.equal(disconnectFault(d(0x04), true), undefined);
  assert.equal(disconnectFault(d(0x8b), true)?.rc, PROTOCOL_ERROR);
  assert.equal(disconnectFault(d(0x8b), false), undefined);
});

test('CONNECT: Will QoS 3, protocol name vs level, password without user name (3.1.1), Authentication Data alone', () => {
  const c = (x: Partial<IConnectPacket>) => ({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 0, ...x }) as IConnectPacket;
  assert.equal(connectFault(c({})), undefined);
  assert.equal(connectFault(c({ will: { topic: 't', payload: Buffer.alloc(0), qos: 3 as never, retain: false } }))?.rc, MALFORMED);
  assert.equal(connectFault(c({ protocolId: 'MQIsdp' }))?.rc, MALFORMED);
  assert.equal(connectFault(c({ protocolId: 'MQIsdp', protocolVersion: 3 })), undefined);
  assert.equal(connectFault(c({ password: Buffer.from('p') }))?.rc, MALFORMED);
  assert.equal(connectFault(c({ protocolVersion: 5, password: Buffer.from('p') })), undefined);
  assert.equal(connectFault(c({ protocolVersion: 5, properties: { authenticationData: Buffer.from('x') } }))?.rc, PROTOCOL_ERROR);
  assert.equal(connectFault(c({ protocolVersion: 5, will: { topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false, properties: { topicAlias: 1 } as never } }))?.rc, MALFORMED);
});

// ---- the connection's length check, which relies on mqtt-packet 9 internals (_pos) ----

function feed(chunks: Buffer[]): { packets: Packet[]; errors: string[] } {
  const sock = new FakeSocket();
  const packets: Packet[] = [];
  const errors: string[] = [];
  new Connection(
    sock as unknown as Socket,
    1,
    0,
    connectionContext({
      onPacket: (_c, p) => packets.push(p),
      onBad: (_c, why, err) => errors.push(err?.message ?? why),
      onFault: (_c, err) => errors.push(`fault: ${String(err)}`),
    }),
  );
  for (const c of chunks) sock.emit('data', c);
  return { packets, errors };
}

const gen = (p: object, v: 4 | 5) => mqtt.generate(p as Packet, { protocolVersion: v });

test('every valid client packet (3.1.1 and 5.0, with properties) passes the connection length check, in one chunk and byte by byte', () => {
  for (const v of [4, 5] as const) {
    const props = v === 5;
    const stream = Buffer.concat([
      gen(
        {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: v,
          clientId: 'c',
          clean: true,
          keepalive: 30,
          will: { topic: 'w', payload: Buffer.from('x'), qos: 1, retain: false, ...(props ? { properties: { willDelayInterval: 1, userProperties: { a: 'b' } } } : {}) },
          username: 'u',
          password: Buffer.from('p'),
          ...(props ? { properties: { sessionExpiryInterval: 10, receiveMaximum: 5 } } : {}),
        },
        v,
      ),
      gen(
        {
          cmd: 'publish',
          topic: 't',
          payload: Buffer.from('pay'),
          qos: 2,
          messageId: 7,
          dup: false,
          retain: true,
          ...(props ? { properties: { contentType: 'c', userProperties: { k: ['1', '2'] }, topicAlias: 1 } } : {}),
        },
        v,
      ),
      gen(
        {
          cmd: 'subscribe',
          messageId: 8,
          subscriptions: [{ topic: 'a/#', qos: 1, ...(props ? { nl: true, rap: true, rh: 2 } : {}) }],
          ...(props ? { properties: { subscriptionIdentifier: 300 } } : {}),
        },
        v,
      ),
      gen({ cmd: 'unsubscribe', messageId: 9, unsubscriptions: ['a/#', 'b'] }, v),
      gen({ cmd: 'puback', messageId: 10, ...(props ? { reasonCode: 0x10, properties: { reasonString: 'r' } } : {}) }, v),
      gen({ cmd: 'pubrec', messageId: 11 }, v),
      gen({ cmd: 'pubrel', messageId: 12, ...(props ? { reasonCode: 0x92 } : {}) }, v),
      gen({ cmd: 'pubcomp', messageId: 13 }, v),
      gen({ cmd: 'pingreq' }, v),
      gen({ cmd: 'disconnect', ...(props ? { reasonCode: 0x04, properties: { sessionExpiryInterval: 0 } } : {}) }, v),
    ]);
    const whole = feed([stream]);
    assert.deepEqual(whole.errors, [], `v${v} whole`);
    assert.equal(whole.packets.length, 10);
    const bytes = feed([...stream].map((b) => Buffer.from([b])));
    assert.deepEqual(bytes.errors, [], `v${v} byte by byte`);
    assert.equal(bytes.packets.length, 10);
  }
});

test('a truncated PUBACK followed by a PINGREQ is refused, not given the PINGREQ bytes as its packet id', () => {
  const connect = gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 0 }, 4);
  const r = feed([connect, Buffer.from([0x40, 0x00, 0xc0, 0x00])]);
  assert.equal(r.packets.length, 1, 'only the CONNECT');
  assert.match(r.errors[0]!, /puback: fields do not fill the Remaining Length 0 \(read 2\)/);
});

test('a 5.0 PUBLISH whose property length runs past the packet is refused', () => {
  const connect = gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'c', clean: true, keepalive: 0 }, 5);
  // PUBLISH QoS 0, topic "t", property length 5 (only 1 byte left in the packet), then a PINGREQ.
  const r = feed([connect, Buffer.from([0x30, 0x04, 0x00, 0x01, 0x74, 0x05, 0xc0, 0x00, 0xc0, 0x00])]);
  assert.equal(r.packets.length, 1, 'only the CONNECT');
  assert.equal(r.errors.length, 1);
});

test('an exception thrown by a packet handler is reported as a fault of that connection, not thrown to the socket', () => {
  const sock = new FakeSocket();
  const faults: unknown[] = [];
  new Connection(
    sock as unknown as Socket,
    1,
    0,
    connectionContext({
      onPacket: () => {
        throw new RangeError('bug');
      },
      onBad: () => {},
      onFault: (_c, err) => faults.push(err),
    }),
  );
  sock.emit('data', gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 0 }, 4));
  assert.equal(faults.length, 1);
  assert.match(String(faults[0]), /RangeError: bug/);
  sock.emit('data', gen({ cmd: 'pingreq' }, 4));
  assert.equal(faults.length, 1, 'input after a fault is ignored');
});
