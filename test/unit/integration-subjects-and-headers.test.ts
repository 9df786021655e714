import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Message } from '../../common/src/envelope/message.js';
import { exportHeaders, messageFromHeaders } from '../../common/src/integration/message-headers.js';
import { fromSubjectToken, subjectToken, topicTokens } from '../../common/src/integration/subject-token.js';
import { subjectSpace } from '../../common/src/subjects.js';

/**
 * The public integration contract (docs/integration.md): how mountpoints and topic levels
 * become NATS subject tokens, and the headers of exported messages and backend publishes.
 */

test('subject tokens: empty is _, a literal _ is %5F, NATS-special characters and % are escaped, the rest stays', () => {
  assert.equal(subjectToken(''), '_');
  assert.equal(subjectToken('_'), '%5F');
  assert.equal(subjectToken('tenant-1'), 'tenant-1');
  assert.equal(subjectToken('a.b*c>d e%f'), 'a%2Eb%2Ac%3Ed%20e%25f');
  assert.equal(subjectToken('ünï:çødé'), 'ünï:çødé');
  assert.equal(subjectToken('tab\there'), 'tab%09here');
  assert.equal(topicTokens('devices/d1/telemetry'), 'devices.d1.telemetry');
  assert.equal(topicTokens('/a//b/'), '_.a._.b._');
  assert.equal(topicTokens('$SYS/x'), '$SYS.x');
  const s = subjectSpace('mqtt');
  assert.equal(s.clientEvent(subjectToken(''), 'client.connected'), 'mqtt.events.v1._.client.connected');
  assert.equal(s.exportedMessage(subjectToken('t1'), topicTokens('a/b')), 'mqtt.messages.v1.t1.a.b');
  assert.equal(s.apiPublish, 'mqtt.api.v1.publish');
});

test('subject tokens round-trip and are valid NATS tokens for any string (property)', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
      const t = subjectToken(s);
      assert.ok(t.length > 0 && !/[\s.*>]/.test(t), `valid token: ${JSON.stringify(t)}`);
      assert.equal(fromSubjectToken(t), s);
    }),
    { seed: 11, numRuns: 500 },
  );
});

test('message headers round-trip: topic with CR/LF, properties, user properties with &, =, +, spaces and repeats', () => {
  const m: Message = {
    topic: 'a/b\r\nc/ü',
    payload: Buffer.from('body'),
    qos: 2,
    retain: true,
    origin: 'tenant\u0000dev 1',
    props: {
      contentType: 'text/plain; charset=utf-8',
      responseTopic: 'reply/to',
      correlationData: Buffer.from([0, 1, 255]),
      payloadFormatIndicator: true,
      expiresAt: 1_800_000_000_000,
      userProperties: { 'k&=+': 'v w+&=', rep: ['1', '2'] },
    },
  };
  const h = exportHeaders('tenant', 'dev 1', m);
  for (const v of Object.values(h)) assert.ok(!/[\r\n]/.test(v), 'no CR/LF in a header value');
  assert.equal(h['Mqtt-Qos'], '2');
  assert.equal(h['Mqtt-Retain'], 'true');
  const back = messageFromHeaders(h, m.payload);
  assert.equal(back.mountpoint, 'tenant');
  assert.equal(back.clientId, 'dev 1');
  assert.deepEqual(back.message, { ...m, origin: '' });
  // What URLSearchParams (the example consumer, most languages' form parsers) reads.
  assert.deepEqual(
    [...new URLSearchParams(h['Mqtt-User-Properties'])],
    [
      ['k&=+', 'v w+&='],
      ['rep', '1'],
      ['rep', '2'],
    ],
  );
  // And what it writes ('+' for a space) is read back.
  const written = new URLSearchParams([['a b', 'c d']]).toString();
  assert.deepEqual(messageFromHeaders({ 'Mqtt-Topic': 't', 'Mqtt-User-Properties': written }, Buffer.alloc(0)).message.props?.userProperties, { 'a b': 'c d' });
});

test('a backend publish without a topic, with a bad QoS or retain flag is refused with the header named', () => {
  assert.throws(() => messageFromHeaders({}, Buffer.alloc(0)), /Mqtt-Topic is missing/);
  assert.throws(() => messageFromHeaders({ 'Mqtt-Topic': 'a', 'Mqtt-Qos': '3' }, Buffer.alloc(0)), /Mqtt-Qos/);
  assert.throws(() => messageFromHeaders({ 'Mqtt-Topic': 'a', 'Mqtt-Retain': 'yes' }, Buffer.alloc(0)), /Mqtt-Retain/);
  assert.throws(() => messageFromHeaders({ 'Mqtt-Topic': '%E0%A4%A' }, Buffer.alloc(0)), /percent-encoded/);
  const ok = messageFromHeaders({ 'Mqtt-Topic': 'cmd%2Fd1' }, Buffer.from('x'));
  assert.deepEqual(ok.message, { topic: 'cmd/d1', payload: Buffer.from('x'), qos: 0, retain: false, origin: '' });
});
