import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthVersionError, decodeAuthReply, decodeAuthRequest, encodeAuthReply, encodeAuthRequest } from '../../common/src/auth-contract/auth-protocol.js';
import { HandlerGuard } from '../../common/src/bus/handler-guard.js';
import { EnvelopeError } from '../../common/src/envelope/codec.js';
import { ENVELOPE_MAJOR, EnvelopeVersionError, envelopeReader } from '../../common/src/envelope/envelope-version.js';
import { decodeGatewayOut, encodeGatewayOut, type GatewayOutItem } from '../../common/src/envelope/gateway-out.js';
import { decodeHeartbeat, encodeHeartbeat } from '../../common/src/envelope/heartbeat.js';
import { decodeRoutePublish, decodeSubChanges, encodeRoutePublish, encodeSubChanges } from '../../common/src/envelope/router.js';
import { decodeSessionIn, encodeSessionIn, SessIn } from '../../common/src/envelope/session-in.js';
import { createLogger } from '../../common/src/log.js';
import { Metrics } from '../../common/src/metrics.js';
import { metricValue } from '../support/auth-harness.js';
import { v1DecodeAck, v1DecodeHeartbeat, v1DecodeRoute, V1_VECTORS } from '../support/envelope-v1.js';

/**
 * The envelope compatibility rule (docs/architecture.md, "Envelope versions"): processes of
 * different releases of one major version read each other; another major is dropped and
 * counted, never thrown out of a bus handler. Old writers are frozen byte vectors, old readers a
 * frozen copy of the v1 decoding (test/support/envelope-v1.ts).
 */

const hex = (h: string) => Buffer.from(h, 'hex');
const gwItems = (b: Buffer) => {
  const out: GatewayOutItem[] = [];
  decodeGatewayOut(b, (it) => out.push(it));
  return out;
};

/** Every v1 vector with the current decoder and encoder for its type. */
const CODECS = [
  ['puback', decodeSessionIn, encodeSessionIn],
  ['deliver', decodeSessionIn, encodeSessionIn],
  ['connect', decodeSessionIn, encodeSessionIn],
  ['route', decodeRoutePublish, encodeRoutePublish],
  ['heartbeat', decodeHeartbeat, encodeHeartbeat],
  ['gatewayOut', gwItems, encodeGatewayOut],
  ['subChanges', decodeSubChanges, encodeSubChanges],
] as const;

test(`this release writes major version ${ENVELOPE_MAJOR}: the version byte 0xC0 | major leads every envelope`, () => {
  assert.equal(ENVELOPE_MAJOR, 1);
  for (const [name, , encode] of CODECS) assert.equal((encode as (v: unknown) => Buffer)(V1_VECTORS[name].value)[0], 0xc1, name);
});

for (const [name, decode, encode] of CODECS) {
  const v = V1_VECTORS[name];
  test(`${name}: an old v1 writer's bytes decode to the same value, and this release still writes them byte for byte`, () => {
    assert.deepEqual((decode as (b: Buffer) => unknown)(hex(v.hex)), v.value);
    assert.equal((encode as (x: unknown) => Buffer)(v.value).toString('hex'), v.hex, 'the v1 layout changed: append optional fields only, or bump the major');
  });
  test(`${name}: an envelope from a release before version bytes (no version byte) is read as major 1`, () => {
    assert.deepEqual((decode as (b: Buffer) => unknown)(hex(v.hex).subarray(1)), v.value);
  });
}

test('a newer writer of the same major appends fields: this reader ignores the trailing bytes it does not know', () => {
  const more = Buffer.from([0x00, 0x03, 0x61, 0x62, 0x63, 0xff]); // e.g. a future optional string and flag
  for (const name of ['puback', 'deliver', 'connect', 'route'] as const) {
    const decode = CODECS.find(([n]) => n === name)![1] as (b: Buffer) => unknown;
    assert.deepEqual(decode(Buffer.concat([hex(V1_VECTORS[name].hex), more])), V1_VECTORS[name].value, name);
  }
  // The heartbeat already has one appended field (busReconnects, u32): a newer writer's come after it.
  const hb = Buffer.concat([hex(V1_VECTORS.heartbeat.hex), Buffer.from([0, 0, 0, 5]), more]);
  assert.deepEqual(decodeHeartbeat(hb), { ...(V1_VECTORS.heartbeat.value as object), busReconnects: 5 });
  assert.deepEqual(decodeHeartbeat(encodeHeartbeat({ gatewayId: 'gw', stopping: false, busReconnects: 7 })), { gatewayId: 'gw', stopping: false, busReconnects: 7 });
});

test('this release writes what a v1 reader reads (acks, route requests with their trailing id, heartbeats)', () => {
  const ack = { kind: SessIn.PubRec, key: 'k', epoch: 3, packetId: 9, rc: 0x10 } as const;
  assert.deepEqual(v1DecodeAck(encodeSessionIn(ack)), ack);
  assert.deepEqual(v1DecodeHeartbeat(encodeHeartbeat({ gatewayId: 'gw', stopping: false })), { gatewayId: 'gw', stopping: false });
  const m = { topic: 't/1', payload: Buffer.from('x'), qos: 1 as const, retain: false, origin: '' };
  assert.deepEqual(v1DecodeRoute(encodeRoutePublish({ mountpoint: 'mp', message: m })), { mountpoint: 'mp', topic: 't/1' });
  assert.deepEqual(v1DecodeRoute(encodeRoutePublish({ mountpoint: '', message: m, group: 'g', exclude: 'k', id: 'r9' })), { mountpoint: '', topic: 't/1', group: 'g', id: 'r9' });
});

test('another major version is refused by every decoder with EnvelopeVersionError', () => {
  for (const [name, decode] of CODECS) {
    const next = Buffer.from(hex(V1_VECTORS[name].hex));
    next[0] = 0xc2;
    assert.throws(
      () => (decode as (b: Buffer) => unknown)(next),
      (e: unknown) => e instanceof EnvelopeVersionError && e.major === 2 && e instanceof EnvelopeError,
      name,
    );
  }
  assert.throws(() => envelopeReader(Buffer.from([0xcf])), EnvelopeVersionError);
  assert.throws(
    () => envelopeReader(Buffer.from([0xff])),
    (e: unknown) => e instanceof EnvelopeError && !(e instanceof EnvelopeVersionError),
    '0xD0 and up: garbage, not a version',
  );
});

test('at the bus boundary an envelope of another major is dropped: counted and logged, never thrown', async () => {
  const metrics = new Metrics(false);
  const logs: string[] = [];
  const guard = new HandlerGuard(
    createLogger('debug', {}, (l) => logs.push(l)),
    metrics,
  );
  let handled = 0;
  const handler = guard.wrap('mqtt.sess.17.in', (msg) => {
    decodeSessionIn(msg.data);
    handled++;
  });
  const next = Buffer.from(hex(V1_VECTORS.puback.hex));
  next[0] = 0xc3;
  const msg = (data: Buffer) => ({ subject: 'mqtt.sess.17.in', data, respond: () => true }) as never;
  assert.doesNotThrow(() => handler(msg(next)));
  handler(msg(hex(V1_VECTORS.puback.hex)));
  assert.equal(handled, 1, 'the v1 envelope is handled, the major-3 one dropped');
  assert.equal(await metricValue(metrics, 'shardmq_bus_unknown_version_envelopes_total', { subject_kind: 'sess.N.in' }), 1);
  assert.equal(await metricValue(metrics, 'shardmq_bus_malformed_envelopes_total'), 0, 'not counted as malformed');
  assert.ok(
    logs.some((l) => l.includes('dropping bus envelope of another major version') && l.includes('"major":3')),
    logs.join('\n'),
  );
});

test('the auth contract carries its major version; a message without it is major 1, another major is refused', () => {
  const req = { mountpoint: '', clientId: 'c', protocolVersion: 5 as const };
  const wire = JSON.parse(Buffer.from(encodeAuthRequest(req)).toString()) as Record<string, unknown>;
  assert.equal(wire.v, 1);
  const { v: _v, ...old } = wire;
  assert.deepEqual(decodeAuthRequest(Buffer.from(JSON.stringify({ ...old, futureField: [1] }))), { ...req, username: undefined, password: undefined, peer: undefined });
  assert.throws(() => decodeAuthRequest(Buffer.from(JSON.stringify({ ...wire, v: 2 }))), AuthVersionError);
  const reply = JSON.parse(Buffer.from(encodeAuthReply({ result: 'ok', acl: null })).toString()) as Record<string, unknown>;
  assert.equal(reply.v, 1);
  assert.deepEqual(decodeAuthReply(Buffer.from(JSON.stringify({ result: 'ok', acl: null }))), { result: 'ok', acl: null });
  assert.throws(() => decodeAuthReply(Buffer.from(JSON.stringify({ ...reply, v: 2 }))), AuthVersionError);
});
