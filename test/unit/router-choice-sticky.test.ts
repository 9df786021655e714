import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryBus, NoRespondersError, type Bus } from '../../common/src/bus/index.js';
import { encodeRouterBeat } from '../../common/src/envelope/heartbeat.js';
import { silentLogger } from '../../common/src/log.js';
import { RouterChoice } from '../../common/src/router-choice.js';
import { subjectSpace } from '../../common/src/subjects.js';

/**
 * The router a publisher's messages go to: one per shard among the routers heard on the
 * heartbeat subject, stable while they stay, moving only the shards a joining or leaving
 * router gains or loses; the queue group while none is known.
 */

const SHARDS = 256;
const subjects = subjectSpace();

async function settle(bus: Bus): Promise<void> {
  await bus.flush();
  await new Promise((r) => setImmediate(r));
}

function table(c: RouterChoice): string[] {
  return Array.from({ length: SHARDS }, (_, s) => c.subjectFor(s));
}

test('publishers stick to one router per shard and move only when routers change', async () => {
  const bus = createMemoryBus();
  const choice = new RouterChoice({ bus, subjects, shards: SHARDS, heartbeatMs: 60_000, log: silentLogger });
  const probes: number[] = [];
  bus.subscribe(subjects.routerProbe, () => probes.push(1));
  await choice.start();
  await settle(bus);
  assert.equal(probes.length, 1, 'a starting publisher asks the routers to announce themselves');
  assert.ok(
    table(choice).every((s) => s === subjects.routePublish),
    'no router known: the queue group',
  );

  for (const id of ['r1', 'r2']) bus.publish(subjects.routerHeartbeat, encodeRouterBeat({ routerId: id, stopping: false }));
  await settle(bus);
  const two = table(choice);
  assert.deepEqual(new Set(two), new Set([subjects.routePublishTo('r1'), subjects.routePublishTo('r2')]));

  // Heartbeats of known routers change nothing.
  bus.publish(subjects.routerHeartbeat, encodeRouterBeat({ routerId: 'r2', stopping: false }));
  await settle(bus);
  assert.deepEqual(table(choice), two);

  bus.publish(subjects.routerHeartbeat, encodeRouterBeat({ routerId: 'r3', stopping: false }));
  await settle(bus);
  const three = table(choice);
  const moved = three.filter((s, i) => s !== two[i]);
  assert.ok(moved.length > SHARDS / 6 && moved.length < SHARDS / 2, `a third router takes about a third (${moved.length})`);
  assert.ok(
    moved.every((s) => s === subjects.routePublishTo('r3')),
    'only shards won by the new router move',
  );

  bus.publish(subjects.routerHeartbeat, encodeRouterBeat({ routerId: 'r3', stopping: true }));
  await settle(bus);
  assert.deepEqual(table(choice), two, 'a stopping router gives its shards back to where they were');

  // A malformed heartbeat (a router id unfit for a subject) is ignored.
  bus.publish(subjects.routerHeartbeat, encodeRouterBeat({ routerId: 'bad.id', stopping: false }));
  await settle(bus);
  assert.deepEqual(choice.routers(), ['r1', 'r2']);
  choice.stop();
  await bus.close();
});

test('a router with no subscriber is dropped at the first failed request; the retry goes elsewhere', async () => {
  const bus = createMemoryBus();
  const choice = new RouterChoice({ bus, subjects, shards: SHARDS, heartbeatMs: 60_000, log: silentLogger });
  await choice.start();
  bus.subscribe(subjects.routePublishTo('alive'), (m) => m.respond(Buffer.from([0])));
  for (const id of ['alive', 'dead']) bus.publish(subjects.routerHeartbeat, encodeRouterBeat({ routerId: id, stopping: false }));
  await settle(bus);
  const shard = table(choice).indexOf(subjects.routePublishTo('dead'));
  assert.ok(shard >= 0);
  await assert.rejects(choice.request(shard, Buffer.from([1]), 1000), NoRespondersError);
  assert.deepEqual(choice.routers(), ['alive']);
  const r = await choice.request(shard, Buffer.from([1]), 1000);
  assert.equal(r.data[0], 0);
  choice.stop();
  await bus.close();
});
