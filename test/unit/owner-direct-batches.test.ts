import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createMemoryBus, type Bus, NoRespondersError } from '../../common/src/bus/index.js';
import { OwnerDirect } from '../../common/src/bus/owner-direct.js';
import { loadConfig } from '../../common/src/config/load-config.js';
import type { Config } from '../../common/src/config/settings.js';
import { EnvelopeError } from '../../common/src/envelope/codec.js';
import { decodeGatewayOut, GwOut, type GatewayOutItem } from '../../common/src/envelope/gateway-out.js';
import { decodeOwnerBatch, decodeOwnerBatchAnswer, encodeOwnerBatch, encodeOwnerBatchAnswer, ownerStatus, ownerTokenOf } from '../../common/src/envelope/owner-batch.js';
import { decodeStatusSafe, ROUTE_OK } from '../../common/src/envelope/router.js';
import { decodeConnectReply, encodeSessionIn, SessIn } from '../../common/src/envelope/session-in.js';
import { createLogger } from '../../common/src/log.js';
import { Metrics } from '../../common/src/metrics.js';
import { shardOf } from '../../common/src/shard.js';
import { subjectSpace } from '../../common/src/subjects.js';
import { SessionService } from '../../session-actor/src/session-service.js';
import { natsLike } from '../support/nats-like-bus.js';
import { msg } from '../support/session-core-harness.js';

// Owner-direct batches: a router's or gateway's envelopes for the shards of one owner process go
// in one request to that process, learnt from the owner's answers; an owner answers an item of a
// shard it does not serve empty, and the sender sends that item again on the shard subject.

const subjects = subjectSpace();

test('owner batch envelopes round-trip, and an answer with the wrong count is refused', () => {
  const items = [
    { shard: 3, data: Buffer.from([1, 2, 3]) },
    { shard: 1023, data: Buffer.alloc(0) },
  ];
  const back = decodeOwnerBatch(encodeOwnerBatch(items));
  assert.deepEqual(
    back.map((i) => [i.shard, [...i.data]]),
    [
      [3, [1, 2, 3]],
      [1023, []],
    ],
  );
  const answers = decodeOwnerBatchAnswer(encodeOwnerBatchAnswer([Buffer.from([0]), Buffer.alloc(0)]), 2);
  assert.deepEqual(
    answers.map((a) => [...a]),
    [[0], []],
  );
  assert.throws(() => decodeOwnerBatchAnswer(encodeOwnerBatchAnswer([Buffer.from([0])]), 2), EnvelopeError);
  assert.throws(() => decodeOwnerBatch(Buffer.from([0xc1, 0xff, 0xff])), EnvelopeError);
  // A status answer that names its owner still reads as a bare status byte.
  const named = ownerStatus(ROUTE_OK, 'abc123');
  assert.equal(decodeStatusSafe(named), ROUTE_OK);
  assert.equal(ownerTokenOf(named), 'abc123');
  assert.equal(ownerTokenOf(Buffer.from([ROUTE_OK])), undefined);
});

let mem: Bus;
let bus: Bus;
let svc: SessionService;
let config: Config;
const out: GatewayOutItem[] = [];

before(async () => {
  config = loadConfig({ env: { SHARDMQ_SHARDS: '8', SHARDMQ_CLUSTER_PERSISTENCE: 'false' }, argv: [] });
  mem = createMemoryBus();
  bus = natsLike(mem, 64 * 1024);
  svc = SessionService.create(config, { bus, subjects, metrics: new Metrics(false), log: createLogger('error', {}) });
  await svc.start();
  bus.subscribe(subjects.gatewayOut('gw1'), (m) => decodeGatewayOut(m.data, (it) => out.push(it)));
});

after(async () => {
  await svc.stop();
  await mem.close();
});

async function connect(clientId: string, connId: number) {
  const r = await bus.request(
    subjects.sessionIn(shardOf(clientId, config.shards)),
    encodeSessionIn({
      kind: SessIn.Connect,
      key: clientId,
      mountpoint: '',
      clientId,
      gateway: 'gw1',
      connId,
      proto: 5,
      cleanStart: true,
      keepaliveS: 60,
      sessionExpiryS: 3600,
      receiveMaximum: 10,
      maxPacketBytes: 0,
    }),
    { timeoutMs: 10_000 },
  );
  return decodeConnectReply(r.data);
}

/** Two client ids in different shards. */
function twoShards(): [string, string] {
  const a = 'od-a';
  for (let i = 0; ; i++) {
    const b = `od-b${i}`;
    if (shardOf(b, config.shards) !== shardOf(a, config.shards)) return [a, b];
  }
}

test('an owner answers with its token, and the envelopes of one turn for its shards go in one batch', async () => {
  const [a, b] = twoShards();
  const ra = await connect(a, 1);
  const rb = await connect(b, 2);
  assert.equal(ra.rc, 0);
  assert.ok(ra.ownerToken, 'the connect answer names the owner');
  assert.equal(rb.ownerToken, ra.ownerToken);
  const token = ra.ownerToken!;
  let batches = 0;
  const spy = bus.subscribe(subjects.ownerIn(token), () => batches++);
  const direct = new OwnerDirect(bus, subjects);
  direct.know(shardOf(a, config.shards), token);
  direct.know(shardOf(b, config.shards), token);
  const deliver = (key: string, id: string) => encodeSessionIn({ kind: SessIn.Deliver, targets: [{ key, qos: 1, retainAsPublished: false, subIds: [] }], message: msg('t/od'), id });
  const answers = await Promise.all([direct.request(shardOf(a, config.shards), deliver(a, 'd1'), 10_000), direct.request(shardOf(b, config.shards), deliver(b, 'd2'), 10_000)]);
  spy.unsubscribe();
  assert.equal(batches, 1, 'one bus message for both shards');
  for (const ans of answers) assert.equal(decodeStatusSafe(ans), ROUTE_OK);
  await new Promise((r) => setTimeout(r, 20));
  const published = out.filter((it) => it.kind === GwOut.Publish).map((it) => it.connId);
  assert.deepEqual(published.sort(), [1, 2], 'each session got its copy');
});

test('an item of a shard the owner does not serve is answered empty, and the sender takes it to the shard subject', async () => {
  const [a] = twoShards();
  const ra = await connect(a, 3);
  const token = ra.ownerToken!;
  // The owner process's batch answers: served shard -> status, a shard it does not serve -> empty.
  const served = shardOf(a, config.shards);
  const other = (served + 1) % config.shards;
  const ack = encodeSessionIn({ kind: SessIn.PubAck, key: a, epoch: ra.epoch, packetId: 999, rc: 0 });
  svc.lost(other);
  const raw = await bus.request(
    subjects.ownerIn(token),
    encodeOwnerBatch([
      { shard: served, data: ack },
      { shard: other, data: ack },
    ]),
    { timeoutMs: 10_000 },
  );
  const answers = decodeOwnerBatchAnswer(raw.data, 2);
  assert.equal(decodeStatusSafe(answers[0]!), ROUTE_OK);
  assert.equal(answers[1]!.length, 0);

  // The sender side: an owner that serves nothing sends the item to the shard subject, whose
  // answer (naming the new owner) is the result.
  const fake = bus.subscribe(subjects.ownerIn('gone1'), (m) => m.respond(encodeOwnerBatchAnswer(decodeOwnerBatch(m.data).map(() => Buffer.alloc(0)))));
  const newOwner = bus.subscribe(subjects.sessionIn(other), (m) => m.respond(ownerStatus(ROUTE_OK, 'new1')));
  const direct = new OwnerDirect(bus, subjects);
  direct.know(other, 'gone1');
  const answer = await direct.request(other, ack, 10_000);
  assert.equal(ownerTokenOf(answer), 'new1');
  assert.equal(direct.ownerOf(other), 'new1', 'the new owner is learnt');
  fake.unsubscribe();
  newOwner.unsubscribe();
});

test('an owner nobody listens for any more is forgotten and the shard subject is used', async () => {
  const direct = new OwnerDirect(bus, subjects);
  const shard = 5;
  // Neither shard is served by the session service here.
  svc.lost(5);
  svc.lost(6);
  direct.know(shard, 'vanished');
  const viaShard = bus.subscribe(subjects.sessionIn(shard), (m) => m.respond(ownerStatus(ROUTE_OK, 'live1')));
  try {
    const answer = await direct.request(shard, Buffer.from([1]), 10_000);
    assert.equal(ownerTokenOf(answer), 'live1');
    assert.equal(direct.ownerOf(shard), 'live1');
  } finally {
    viaShard.unsubscribe();
  }
  // Nobody at all: the request fails as a shard-subject request does.
  direct.know(6, 'vanished');
  await assert.rejects(direct.request(6, Buffer.from([1]), 1_000), NoRespondersError);
});
