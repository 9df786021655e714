import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryBus } from '../../common/src/bus/index.js';
import { OwnerDirect } from '../../common/src/bus/owner-direct.js';
import { decodeGatewayOut, encodeGatewayOutChunks, GwOut, type GatewayOutItem } from '../../common/src/envelope/gateway-out.js';
import { decodeOwnerBatch, encodeOwnerBatchAnswer } from '../../common/src/envelope/owner-batch.js';
import { sizeRanges } from '../../common/src/bus/size-ranges.js';
import { subjectSpace } from '../../common/src/subjects.js';
import { natsLike } from '../support/nats-like-bus.js';
import { msg } from '../support/session-core-harness.js';

// Batches built per event-loop turn (an owner's output for one gateway, a router's or gateway's
// envelopes for one owner) are split below the bus's message size: one turn with many large
// messages once took a session actor down on NATS's max_payload.

function publishItem(connId: number, bytes: number): GatewayOutItem {
  return { kind: GwOut.Publish, connId, epoch: 1, packetId: connId, qos: 1, dup: false, retain: false, subIds: [], message: msg('t/big', Buffer.alloc(bytes, connId)) };
}

test('an owner turn for one gateway is split into messages under the limit, items in order', () => {
  const items = Array.from({ length: 10 }, (_, i) => publishItem(i + 1, 30_000));
  const limit = 100_000;
  const chunks = encodeGatewayOutChunks(items, limit);
  assert.ok(chunks.length >= 4, `${chunks.length} chunks`);
  for (const c of chunks) assert.ok(c.length <= limit, `chunk of ${c.length} bytes`);
  const back: number[] = [];
  for (const c of chunks) decodeGatewayOut(c, (it) => back.push(it.connId));
  assert.deepEqual(
    back,
    items.map((it) => it.connId),
  );
  // One item above the limit travels alone (the bus refuses it); the others are unaffected.
  const mixed = encodeGatewayOutChunks([publishItem(1, 10), publishItem(2, 200_000), publishItem(3, 10)], limit);
  assert.equal(mixed.length, 3);
});

test('owner-direct batches respect the bus message size', async () => {
  const mem = createMemoryBus();
  const bus = natsLike(mem, 64 * 1024);
  const subjects = subjectSpace();
  const sizes: number[] = [];
  const owner = bus.subscribe(subjects.ownerIn('o1'), (m) => {
    sizes.push(m.data.length);
    m.respond(encodeOwnerBatchAnswer(decodeOwnerBatch(m.data).map(() => Buffer.from([0]))));
  });
  try {
    const direct = new OwnerDirect(bus, subjects);
    for (let s = 0; s < 5; s++) direct.know(s, 'o1');
    const answers = await Promise.all(Array.from({ length: 5 }, (_, s) => direct.request(s, Buffer.alloc(30_000), 10_000)));
    assert.equal(answers.length, 5);
    assert.ok(sizes.length >= 3, `${sizes.length} batches`);
    for (const n of sizes) assert.ok(n <= 64 * 1024, `batch of ${n} bytes`);
  } finally {
    owner.unsubscribe();
    await mem.close();
  }
});

test('size ranges: consecutive, in order, within the byte and item bounds; an oversized item alone', () => {
  const sizes = [10, 10, 10, 95, 10, 10, 10, 10];
  assert.deepEqual(
    sizeRanges(sizes, (n) => n, 30),
    [
      [0, 3],
      [3, 4],
      [4, 7],
      [7, 8],
    ],
  );
  assert.deepEqual(
    sizeRanges(sizes, (n) => n, 1000, 3),
    [
      [0, 3],
      [3, 6],
      [6, 8],
    ],
  );
  assert.deepEqual(
    sizeRanges([], (n: number) => n, 30),
    [],
  );
});
