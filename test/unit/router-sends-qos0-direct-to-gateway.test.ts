import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createMemoryBus, type Bus } from '../../common/src/bus/index.js';
import { loadConfig } from '../../common/src/config/load-config.js';
import type { Config } from '../../common/src/config/settings.js';
import { decodeGatewayOut, GwOut, type GatewayOutItem, type PublishItem } from '../../common/src/envelope/gateway-out.js';
import type { Message } from '../../common/src/envelope/message.js';
import { decodeSubChanges, encodeRoutePublish, encodeSubChanges, ROUTE_NO_MATCH, ROUTE_OK, SubOp, type SessionLocation, type SubChange } from '../../common/src/envelope/router.js';
import { decodeSessionIn, SessIn, type DeliveryTarget } from '../../common/src/envelope/session-in.js';
import { silentLogger } from '../../common/src/log.js';
import { Metrics } from '../../common/src/metrics.js';
import { subjectSpace } from '../../common/src/subjects.js';
import { directCopy } from '../../router/src/qos0-direct.js';
import { RouterService } from '../../router/src/router-service.js';

// The router's QoS 0 direct path (docs/sharding.md, "QoS 0 direct"): a copy whose delivered QoS
// is 0, of a non-shared subscription of a session whose owner announced a connection, goes
// straight to that connection's gateway; everything else still goes to the shard owner.

const msg = (x: Partial<Message> = {}): Message => ({ topic: 't', payload: Buffer.from('p'), qos: 0, retain: false, origin: 'pub', ...x });
const target = (x: Partial<DeliveryTarget> = {}): DeliveryTarget => ({ key: 'k1', qos: 0, retainAsPublished: false, subIds: [], ...x });
const at: SessionLocation = { key: 'k1', gateway: 'gwA', connId: 7, epoch: 3, maxPacketBytes: 0 };

test('directCopy: only delivered QoS 0, non-shared, located copies go direct, with the owner rules applied', () => {
  const now = 1_000_000;
  const item = directCopy(target({ subIds: [4] }), msg(), at, now) as PublishItem;
  assert.deepEqual(
    { kind: item.kind, connId: item.connId, epoch: item.epoch, qos: item.qos, packetId: item.packetId, dup: item.dup, retain: item.retain, subIds: item.subIds },
    { kind: GwOut.Publish, connId: 7, epoch: 3, qos: 0, packetId: 0, dup: false, retain: false, subIds: [4] },
  );
  // [MQTT-3.8.4-8] a QoS 0 subscription gets a QoS 1 message at QoS 0: direct as well.
  assert.equal((directCopy(target({ qos: 0 }), msg({ qos: 1 }), at, now) as PublishItem).qos, 0);
  assert.equal(directCopy(target({ qos: 1 }), msg({ qos: 1 }), at, now), undefined, 'delivered QoS 1: through the owner');
  assert.equal(directCopy(target({ group: 'g' }), msg(), at, now), undefined, '$share: through the owner');
  assert.equal(directCopy(target(), msg(), undefined, now), undefined, 'no connection known: through the owner');
  // [MQTT-3.3.1-12/13] RETAIN kept only with Retain As Published.
  assert.equal((directCopy(target(), msg({ retain: true }), at, now) as PublishItem).retain, false);
  assert.equal((directCopy(target({ retainAsPublished: true }), msg({ retain: true }), at, now) as PublishItem).retain, true);
  assert.equal(directCopy(target(), msg({ props: { expiresAt: now } }), at, now), 'expired');
  assert.equal(directCopy(target(), msg({ payload: Buffer.alloc(100) }), { ...at, maxPacketBytes: 50 }, now), 'too_large');
  assert.notEqual(directCopy(target(), msg({ payload: Buffer.alloc(40) }), { ...at, maxPacketBytes: 50 }, now), 'too_large');
});

test('the located field of a subscription-change batch survives encoding; a batch without it reads as before', () => {
  const b = decodeSubChanges(encodeSubChanges({ changes: [], retainedFor: [{ mountpoint: '', filter: 'a' }], located: [at, { ...at, key: 'k2', gateway: '' }] }));
  assert.deepEqual(b.located, [at, { ...at, key: 'k2', gateway: '' }]);
  assert.deepEqual(b.retainedFor, [{ mountpoint: '', filter: 'a' }]);
  assert.equal(decodeSubChanges(encodeSubChanges({ changes: [], retainedFor: [] })).located, undefined);
});

describeRouter();

function describeRouter(): void {
  const subjects = subjectSpace();
  let bus: Bus;
  let config: Config;
  let router: RouterService;
  const atGateway: GatewayOutItem[] = [];
  const atOwner: Array<{ key: string; qos: number }> = [];

  before(async () => {
    config = loadConfig({ env: { SHARDMQ_SHARDS: '4' }, argv: [] });
    bus = createMemoryBus();
    router = RouterService.create(config, { bus, subjects, metrics: new Metrics(false), log: silentLogger });
    await router.start();
    bus.subscribe(subjects.gatewayOut('gwA'), (m) => decodeGatewayOut(m.data, (it) => atGateway.push(it)));
    for (let shard = 0; shard < config.shards; shard++) {
      bus.subscribe(subjects.sessionIn(shard), (m) => {
        const e = decodeSessionIn(m.data);
        if (e.kind === SessIn.Deliver) for (const t of e.targets) atOwner.push({ key: t.key, qos: t.qos });
        if (m.reply) m.respond(Buffer.from([0]));
      });
    }
  });

  after(async () => {
    await router.stop();
  });

  const add = (key: string, filter: string, qos: 0 | 1, group?: string): SubChange => ({ op: SubOp.Add, key, mountpoint: '', filter, group, qos, noLocal: false, retainAsPublished: false, subId: 0 });
  const changeSubs = (changes: SubChange[], located: SessionLocation[] = []) => bus.request(subjects.routeSubscription, encodeSubChanges({ changes, retainedFor: [], located }), { timeoutMs: 5000 });
  const route = (message: Message) => bus.request(subjects.routePublish, encodeRoutePublish({ mountpoint: '', message }), { timeoutMs: 5000 }).then((r) => r.data[0]);
  /** Polls until `cond` holds (the memory bus and the per-turn batches are asynchronous). */
  const until = async (cond: () => boolean, what: string) => {
    for (const deadline = Date.now() + 20_000; !cond(); ) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const reset = () => {
    atGateway.length = 0;
    atOwner.length = 0;
  };

  test('a located session gets QoS 0 from its gateway subject, its QoS 1 and $share copies through the owner', async () => {
    await changeSubs([add('k1', 'a/+', 1), add('k2', 'a/+', 0), add('k3', 'a/+', 0, 'grp')], [at, { ...at, key: 'k2', connId: 8, epoch: 9 }, { ...at, key: 'k3', connId: 10 }]);
    reset();
    assert.equal(await route(msg({ topic: 'a/1', qos: 1 })), ROUTE_OK);
    await until(() => atGateway.length >= 1 && atOwner.length >= 2, 'the copies of a/1');
    // k1 (QoS 1 subscription, QoS 1 message): owner; k2 (QoS 0 subscription): direct; k3 ($share): owner.
    assert.deepEqual(
      atGateway.map((it) => [it.connId, it.epoch, it.kind === GwOut.Publish ? it.message.topic : '']),
      [[8, 9, 'a/1']],
    );
    assert.deepEqual(atOwner.map((t) => t.key).sort(), ['k1', 'k3']);
    reset();
    assert.equal(await route(msg({ topic: 'a/2', qos: 0 })), ROUTE_OK);
    await until(() => atGateway.length >= 2 && atOwner.length >= 1, 'the copies of a/2');
    assert.deepEqual(atGateway.map((it) => it.connId).sort(), [7, 8]);
    assert.deepEqual(
      atOwner.map((t) => t.key),
      ['k3'],
    );
  });

  test('one message per gateway per turn, in routing order', async () => {
    reset();
    let batches = 0;
    const sub = bus.subscribe(subjects.gatewayOut('gwA'), () => batches++);
    for (let i = 0; i < 5; i++) bus.publish(subjects.routePublish, encodeRoutePublish({ mountpoint: '', message: msg({ topic: 'a/x', payload: Buffer.from(String(i)) }) }));
    const k2 = () => atGateway.filter((it) => it.connId === 8 && it.kind === GwOut.Publish && it.message.topic === 'a/x').map((it) => (it.kind === GwOut.Publish ? it.message.payload.toString() : ''));
    await until(() => k2().length >= 5, 'five copies for k2');
    sub.unsubscribe();
    assert.deepEqual(k2(), ['0', '1', '2', '3', '4'], '[MQTT-4.6.0-6] in publish order');
    assert.ok(batches >= 1 && batches < 5, `fewer gateway messages (${batches}) than messages routed`);
  });

  test('a session that lost its connection, or ended, goes back to the owner path', async () => {
    await changeSubs([], [{ key: 'k2', gateway: '', connId: 0, epoch: 0, maxPacketBytes: 0 }]);
    reset();
    await route(msg({ topic: 'a/3' }));
    await until(() => atGateway.length >= 1 && atOwner.length >= 2, 'the copies of a/3');
    assert.deepEqual(
      atGateway.map((it) => it.connId),
      [7],
    );
    assert.deepEqual(atOwner.map((t) => t.key).sort(), ['k2', 'k3']);
    // Reconnected elsewhere: the new connection and epoch.
    await changeSubs([], [{ ...at, key: 'k2', connId: 11, epoch: 12 }]);
    await changeSubs([{ op: SubOp.RemoveKey, key: 'k1', mountpoint: '', filter: '', qos: 0, noLocal: false, retainAsPublished: false, subId: 0 }]);
    reset();
    await route(msg({ topic: 'a/4' }));
    await until(() => atGateway.length >= 1 && atOwner.length >= 1, 'the copies of a/4');
    assert.deepEqual(
      atGateway.map((it) => [it.connId, it.epoch]),
      [[11, 12]],
    );
    assert.deepEqual(
      atOwner.map((t) => t.key),
      ['k3'],
    );
    // A RemoveKey forgets the location: a later subscription of that key without one goes through its owner.
    await changeSubs([add('k1', 'a/+', 0)]);
    reset();
    await route(msg({ topic: 'a/5' }));
    await until(() => atOwner.length >= 2, 'the copies of a/5');
    assert.deepEqual(atOwner.map((t) => t.key).sort(), ['k1', 'k3']);
  });

  test('a message only the direct path took is not "no matching subscribers"', async () => {
    await changeSubs([add('k9', 'only/direct', 0)], [{ ...at, key: 'k9', connId: 99 }]);
    assert.equal(await route(msg({ topic: 'only/direct', qos: 1 })), ROUTE_OK);
    assert.equal(await route(msg({ topic: 'nobody/here', qos: 1 })), ROUTE_NO_MATCH);
    // A copy the direct path dropped by a rule (expired on the way) still had a subscriber.
    assert.equal(await route(msg({ topic: 'only/direct', qos: 1, props: { expiresAt: Date.now() - 1 } })), ROUTE_OK);
  });
}
