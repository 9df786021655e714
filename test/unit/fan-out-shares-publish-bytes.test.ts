import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GwOut, type PublishItem } from '../../common/src/envelope/gateway-out.js';
import type { Message } from '../../common/src/envelope/message.js';
import { createConnState, type ConnState } from '../../gateway/src/protocol/conn-state.js';
import { encodePublish } from '../../gateway/src/protocol/encode-publish.js';
import { SharedPublishBytes } from '../../gateway/src/protocol/shared-publish-bytes.js';
import type { TurnOutput } from '../../gateway/src/protocol/turn-output.js';

/** The gateway encodes a QoS 0 message once for every connection of a fan-out that gets the same bytes, and only then. */

function conn(id: number, proto: 4 | 5, aliasMax = 0): ConnState {
  const c = createConnState(id, 'peer', '', 0);
  c.proto = proto;
  c.clientAliasMax = aliasMax;
  return c;
}

function item(message: Message, x: Partial<PublishItem> = {}): PublishItem {
  return { kind: GwOut.Publish, connId: 1, epoch: 1, packetId: 0, qos: 0, dup: false, retain: false, subIds: [], message, ...x };
}

const msg = (payload = 'hello', topic = 'a/b'): Message => ({ topic, payload: Buffer.from(payload), qos: 0, retain: false, origin: 'k' });

/**
 * A connection's output of one turn as connection.ts keeps it: the first packet by reference, then
 * one buffer of its own (small, so that it has to grow). `packets` are views of what was queued.
 */
class Out implements TurnOutput {
  first: Buffer | undefined;
  buf: Buffer | undefined;
  outEnd = 0;
  readonly starts: number[] = [];
  get queuedBytes(): number {
    return this.outEnd;
  }
  write(bytes: Buffer): void {
    if (this.outEnd === 0) {
      this.first = bytes;
      this.outEnd = bytes.length;
      this.starts.push(0);
      return;
    }
    const b = this.room(bytes.length);
    bytes.copy(b, this.outEnd);
    this.committed(bytes.length);
  }
  room(n: number): Buffer {
    const need = this.outEnd + n;
    if (this.buf !== undefined && this.buf.length >= need) return this.buf;
    const b = Buffer.alloc(need + 3);
    (this.buf ?? this.first)?.copy(b, 0, 0, this.outEnd);
    this.buf = b;
    return b;
  }
  committed(n: number): void {
    this.starts.push(this.outEnd);
    this.outEnd += n;
  }
  /** What the socket gets at the turn's end. */
  get bytes(): Buffer {
    return this.buf === undefined ? this.first! : this.buf.subarray(0, this.outEnd);
  }
}

test('QoS 0 without anything per connection: the same Buffer for every 3.1.1 and every 5.0 connection with nothing else queued, equal to what encodePublish writes', () => {
  const shared = new SharedPublishBytes();
  const m = msg();
  for (const proto of [4, 5] as const) {
    const o = new Out();
    assert.equal(shared.write(conn(1, proto), item(m), o), true);
    const first = o.bytes;
    assert.deepEqual(first, encodePublish(conn(9, proto), item(m), 0));
    for (let id = 2; id < 50; id++) {
      const x = new Out();
      assert.equal(shared.write(conn(id, proto), item(m), x), true);
      assert.equal(x.bytes, first, 'the identical Buffer');
    }
  }
});

test('a connection with something queued gets the bytes in its turn buffer; the next connection with nothing queued still shares them', () => {
  const shared = new SharedPublishBytes();
  const busy = new Out();
  busy.write(Buffer.from([0xd0, 0])); // a PINGRESP queued first
  const m = msg('payload of the fan-out');
  assert.equal(shared.write(conn(1, 4), item(m), busy), true);
  const expected = encodePublish(conn(9, 4), item(m), 0);
  assert.deepEqual(busy.bytes, Buffer.concat([Buffer.from([0xd0, 0]), expected]));
  const idle = new Out();
  assert.equal(shared.write(conn(2, 4), item(msg('payload of the fan-out')), idle), true);
  assert.deepEqual(idle.bytes, expected);
  assert.equal(idle.bytes.buffer, busy.buf!.buffer, "a view of the bytes encoded in the first connection's turn buffer");
  const busy2 = new Out();
  busy2.write(Buffer.from([0xd0, 0]));
  shared.write(conn(3, 4), item(m), busy2);
  assert.deepEqual(busy2.bytes, busy.bytes, 'copied');
  // The turn buffer that held the shared bytes grows: what was shared stays as it was.
  for (let i = 0; i < 20; i++) shared.write(conn(1, 4), item(msg(`more ${i}`)), busy);
  assert.deepEqual(idle.bytes, expected);
});

test("a fan-in: every message encoded straight into the subscriber's turn buffer, the same bytes as encodePublish, 3.1.1 and 5.0", () => {
  for (const proto of [4, 5] as const) {
    const shared = new SharedPublishBytes();
    const o = new Out();
    const expected: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const it = item(msg(`message ${i}`.repeat(1 + (i % 7)), `t/ü/${i % 10}`), { retain: i % 3 === 0 });
      assert.equal(shared.write(conn(1, proto), it, o), true);
      expected.push(encodePublish(conn(9, proto), it, 0));
    }
    assert.deepEqual(o.bytes, Buffer.concat(expected));
    assert.equal(o.starts.length, 300);
  }
});

test("larger than the client's Maximum Packet Size: not queued, shared or not [MQTT-3.1.2-24]", () => {
  const shared = new SharedPublishBytes();
  const m = msg('x'.repeat(100));
  const small = conn(1, 5);
  small.clientMaxPacketBytes = 50;
  const o = new Out();
  assert.equal(shared.write(small, item(m), o), false);
  assert.equal(o.queuedBytes, 0);
  assert.equal(shared.write(conn(2, 5), item(m), new Out()), true);
  assert.equal(shared.write(small, item(m), o), false);
  assert.equal(o.queuedBytes, 0);
});

test('copies of one message (delivered through several shard owners) share; another payload, topic or RETAIN does not', () => {
  const shared = new SharedPublishBytes();
  const get = (c: ConnState, it: PublishItem): Buffer | undefined => {
    const o = new Out();
    return shared.write(c, it, o) === true ? o.bytes : undefined;
  };
  const a = get(conn(1, 4), item(msg()))!;
  assert.equal(get(conn(2, 4), item(msg())), a);
  const other = get(conn(3, 4), item(msg('hellp')))!;
  assert.notEqual(other, a);
  assert.deepEqual(other, encodePublish(conn(3, 4), item(msg('hellp')), 0));
  assert.deepEqual(get(conn(4, 4), item(msg('hellp', 'a/c'))), encodePublish(conn(4, 4), item(msg('hellp', 'a/c')), 0));
  const retained = get(conn(5, 4), item(msg('hellp', 'a/c'), { retain: true }))!;
  assert.equal(retained[0]! & 1, 1, 'RETAIN set in its own bytes');
  assert.equal(get(conn(6, 4), item(msg('hellp', 'a/c')))![0]! & 1, 0);
});

test("a packet id, a Subscription Identifier, a topic alias or 5.0 properties make the bytes the connection's own", () => {
  const shared = new SharedPublishBytes();
  const m = msg();
  assert.equal(shared.write(conn(1, 4), item(m, { qos: 1, packetId: 7 }), new Out()), undefined);
  assert.equal(shared.write(conn(1, 5), item(m, { subIds: [3] }), new Out()), undefined);
  assert.equal(shared.write(conn(1, 5, 10), item(m), new Out()), undefined);
  assert.equal(shared.write(conn(1, 5), item({ ...m, props: { contentType: 'x' } }), new Out()), undefined);
  // 3.1.1 has no properties: a message with 5.0 properties still shares among 3.1.1 connections.
  const withProps = { ...m, props: { contentType: 'x' } };
  const o = new Out();
  assert.equal(shared.write(conn(1, 4), item(withProps), o), true);
  assert.deepEqual(o.bytes, encodePublish(conn(2, 4), item(withProps), 0));
});
