import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GwOut, type PublishItem } from '../../common/src/envelope/gateway-out.js';
import type { Message } from '../../common/src/envelope/message.js';
import { createConnState, type ConnState } from '../../gateway/src/protocol/conn-state.js';
import { encodePublish } from '../../gateway/src/protocol/encode-publish.js';
import { SharedPublishBytes } from '../../gateway/src/protocol/shared-publish-bytes.js';

/** The gateway writes one Buffer to every connection of a fan-out that gets the same bytes, and only then. */

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

test('QoS 0 without anything per connection: the same Buffer for every 3.1.1 and every 5.0 connection, equal to what encodePublish writes', () => {
  const shared = new SharedPublishBytes();
  const m = msg();
  for (const proto of [4, 5] as const) {
    const first = shared.get(conn(1, proto), item(m))!;
    assert.deepEqual(first, encodePublish(conn(9, proto), item(m), 0));
    for (let id = 2; id < 50; id++) assert.equal(shared.get(conn(id, proto), item(m)), first, 'the identical Buffer');
  }
});

test('copies of one message (delivered through several shard owners) share; another payload, topic or RETAIN does not', () => {
  const shared = new SharedPublishBytes();
  const a = shared.get(conn(1, 4), item(msg()))!;
  assert.equal(shared.get(conn(2, 4), item(msg())), a);
  const other = shared.get(conn(3, 4), item(msg('hellp')))!;
  assert.notEqual(other, a);
  assert.deepEqual(other, encodePublish(conn(3, 4), item(msg('hellp')), 0));
  assert.deepEqual(shared.get(conn(4, 4), item(msg('hellp', 'a/c'))), encodePublish(conn(4, 4), item(msg('hellp', 'a/c')), 0));
  const retained = shared.get(conn(5, 4), item(msg('hellp', 'a/c'), { retain: true }))!;
  assert.equal(retained[0]! & 1, 1, 'RETAIN set in its own bytes');
  assert.equal(shared.get(conn(6, 4), item(msg('hellp', 'a/c')))![0]! & 1, 0);
});

test("a packet id, a Subscription Identifier, a topic alias or 5.0 properties make the bytes the connection's own", () => {
  const shared = new SharedPublishBytes();
  const m = msg();
  assert.equal(shared.get(conn(1, 4), item(m, { qos: 1, packetId: 7 })), undefined);
  assert.equal(shared.get(conn(1, 5), item(m, { subIds: [3] })), undefined);
  assert.equal(shared.get(conn(1, 5, 10), item(m)), undefined);
  assert.equal(shared.get(conn(1, 5), item({ ...m, props: { contentType: 'x' } })), undefined);
  // 3.1.1 has no properties: a message with 5.0 properties still shares among 3.1.1 connections.
  const withProps = { ...m, props: { contentType: 'x' } };
  assert.deepEqual(shared.get(conn(1, 4), item(withProps)), encodePublish(conn(2, 4), item(withProps), 0));
});
