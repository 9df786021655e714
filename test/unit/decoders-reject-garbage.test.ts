import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EnvelopeError } from '../../common/src/envelope/codec.js';
import { decodeSubChanges } from '../../common/src/envelope/router.js';
import { AuthProtocolError, decodeAuthReply, decodeAuthRequest, encodeAuthReply, encodeAuthRequest, type AuthReply, type AuthRequest } from '../../common/src/auth-contract/auth-protocol.js';
import { decodeSession } from '../../session-actor/src/core/session-codec.js';
import * as arb from '../support/envelope-arbitraries.js';
import { fuzzParams } from '../support/fuzz-params.js';

// Fuzzer for every decoder that reads bytes from the bus or the session store: random bytes
// and mutated valid encodings (bit flips, overwritten bytes, truncation, extension, lying
// u16/u32 lengths and counts). Each call must return a value or throw the decoder's typed
// error (EnvelopeError; AuthProtocolError for the JSON auth protocol), nothing else, and the
// value must not be bigger than the input could describe (a lying count allocates nothing).
// A failure prints `seed` and `path`; replay with SHARDMQ_FUZZ_SEED / SHARDMQ_FUZZ_PATH.

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'extend'; bytes: Uint8Array }
  | { op: 'lie'; at: number; width: 2 | 4; value: number };

const position = fc.nat({ max: 1 << 16 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: position, bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: position, value: arb.u8 }),
  fc.record({ op: fc.constant('truncate' as const), at: position }),
  fc.record({ op: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('lie' as const), at: position, width: fc.constantFrom<2 | 4>(2, 4), value: fc.oneof(fc.constantFrom(0, 1, 0xff, 0xffff, 0x7fffffff, 0xffffffff), arb.u32) }),
);

function mutate(src: Uint8Array, ms: readonly Mutation[]): Buffer {
  let b = Buffer.from(src);
  for (const m of ms) {
    if (m.op === 'extend') {
      b = Buffer.concat([b, m.bytes]);
      continue;
    }
    if (b.length === 0) continue;
    const at = m.at % b.length;
    if (m.op === 'flip') b[at] = b[at]! ^ (1 << m.bit);
    else if (m.op === 'set') b[at] = m.value;
    else if (m.op === 'truncate') b = b.subarray(0, at);
    else if (at + m.width <= b.length) {
      if (m.width === 2) b.writeUInt16BE(m.value & 0xffff, at);
      else b.writeUInt32BE(m.value >>> 0, at);
    }
  }
  return b;
}

/** Array elements, object keys and map entries in a value (buffers count as one). */
function size(v: unknown, seen = new Set<unknown>()): number {
  if (v === null || typeof v !== 'object' || seen.has(v)) return 1;
  seen.add(v);
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return 1;
  let n = 1;
  if (v instanceof Map) for (const [k, x] of v) n += size(k, seen) + size(x, seen);
  else for (const x of Object.values(v as object)) n += size(x, seen);
  return n;
}

/**
 * The contract: a value or the typed error. `maxSize` bounds the decoded value by the input
 * length, so a lying count cannot have built a large structure.
 */
function checkDecoder(name: string, decode: (b: Uint8Array) => unknown, valid: fc.Arbitrary<Uint8Array>, isTyped: (e: unknown) => boolean, runs = 600): void {
  const call = (b: Buffer) => {
    let v: unknown;
    try {
      v = decode(b);
    } catch (e) {
      if (isTyped(e)) return;
      throw new Error(`${name} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} on ${b.toString('hex').slice(0, 400)}`);
    }
    assert.ok(size(v) <= 4 * b.length + 64, `${name}: ${size(v)} values decoded from ${b.length} bytes`);
  };
  test(`${name}: random bytes give a value or the typed error`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (b) => call(Buffer.from(b))),
      fuzzParams(runs),
    );
  });
  test(`${name}: mutated valid encodings (flips, truncation, extension, lying lengths) give a value or the typed error`, () => {
    fc.assert(
      fc.property(valid, fc.array(mutation, { minLength: 1, maxLength: 4 }), (b, ms) => call(mutate(b, ms))),
      fuzzParams(runs * 2),
    );
  });
}

const envelopeError = (e: unknown) => e instanceof EnvelopeError;
const authError = (e: unknown) => e instanceof AuthProtocolError;

for (const c of arb.codecs) checkDecoder(c.name, c.decode, c.values.map(c.encode), envelopeError, 600 * c.runs);

const authRequest: fc.Arbitrary<AuthRequest> = fc.record(
  { mountpoint: arb.text, clientId: arb.text, username: arb.text, password: fc.base64String({ maxLength: 12 }), peer: arb.text, protocolVersion: fc.constantFrom<3 | 4 | 5>(3, 4, 5) },
  { requiredKeys: ['mountpoint', 'clientId', 'protocolVersion'] },
);
const authReply: fc.Arbitrary<AuthReply> = fc.record({
  result: fc.constantFrom('ok', 'bad-credentials', 'not-authorized', 'unavailable'),
  acl: fc.option(
    fc.record({
      publish: fc.array(fc.record({ pattern: arb.text, wildcard: fc.boolean(), maxQos: arb.qos, maxPayloadBytes: fc.nat(), allowedRetain: fc.boolean() }), { maxLength: 3 }),
      subscribe: fc.array(fc.record({ pattern: arb.text, wildcard: fc.boolean(), maxQos: arb.qos }), { maxLength: 3 }),
    }),
    { nil: null },
  ),
});
checkDecoder('decodeAuthRequest', (b) => decodeAuthRequest(b), authRequest.map(encodeAuthRequest), authError);
checkDecoder('decodeAuthReply', (b) => decodeAuthReply(b), authReply.map(encodeAuthReply), authError);

test('auth decoders: well-formed JSON of the wrong shape is refused with AuthProtocolError', () => {
  const json = fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null'));
  fc.assert(
    fc.property(json, (b) => {
      for (const decode of [decodeAuthRequest, decodeAuthReply]) {
        try {
          decode(b);
        } catch (e) {
          assert.ok(e instanceof AuthProtocolError, `${decode.name} threw ${String(e)}`);
        }
      }
    }),
    fuzzParams(500),
  );
});

test('a malformed ACL rule in an auth reply is refused, not passed on to the gateway checks', () => {
  const reply = (publish: unknown) => Buffer.from(JSON.stringify({ result: 'ok', acl: { publish, subscribe: [] } }));
  for (const bad of [
    [1],
    [null],
    [{ pattern: 5, wildcard: false, maxQos: 0, maxPayloadBytes: 1, allowedRetain: true }],
    [{ pattern: 'a', wildcard: false, maxQos: 3, maxPayloadBytes: 1, allowedRetain: true }],
    [{ pattern: 'a', wildcard: false, maxQos: 1 }],
  ]) {
    assert.throws(() => decodeAuthReply(reply(bad)), AuthProtocolError, JSON.stringify(bad));
  }
  assert.equal(decodeAuthReply(reply([{ pattern: 'a/#', wildcard: true, maxQos: 1, maxPayloadBytes: 10, allowedRetain: false }])).result, 'ok');
});

test('a lying count is refused before any loop or allocation', () => {
  // Subscription change batch claiming 2^32-1 changes in 4 bytes.
  assert.throws(() => decodeSubChanges(Buffer.from([0xff, 0xff, 0xff, 0xff])), EnvelopeError);
  // Stored session claiming 2^32-1 queued messages: version, flags, three empty strings, proto,
  // incarnation, epoch, expiry, next id, receive max, max packet, then the counts.
  const head = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 10, 0, 0, 0, 0]);
  assert.throws(() => decodeSession(Buffer.concat([head, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])])), EnvelopeError);
});
