import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryBus } from '../../common/src/bus/index.js';
import { decodeRouterBeat, encodeRouterBeat } from '../../common/src/envelope/heartbeat.js';
import { decodeRouteBatch, encodeRouteBatch } from '../../common/src/envelope/route-batch.js';
import { decodeRoutePublish, encodeRoutePublish } from '../../common/src/envelope/router.js';
import { silentLogger } from '../../common/src/log.js';
import { RouterChoice } from '../../common/src/router-choice.js';
import { subjectSpace } from '../../common/src/subjects.js';
import { natsLike } from '../support/nats-like-bus.js';

/**
 * QoS 0 route publishes go to a router that announces batches in one bus message per router
 * per event-loop turn, in the order sent [MQTT-4.6.0-6]; to a router that does not (an older
 * release), one by one as before. Batching is for NATS only: this test runs the in-memory bus
 * under the NATS kind.
 */

const SHARDS = 64;
const subjects = subjectSpace();

async function until(cond: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 20_000; !cond(); ) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const message = (i: number) => ({ topic: 't', payload: Buffer.from(String(i)), qos: 0 as const, retain: false, origin: 'p' });

test('the router beat carries "takes batches" as a trailing field an older reader ignores', () => {
  assert.deepEqual(decodeRouterBeat(encodeRouterBeat({ routerId: 'r', stopping: false, batches: true })), { routerId: 'r', stopping: false, batches: true });
  const old = encodeRouterBeat({ routerId: 'r', stopping: true });
  assert.deepEqual(decodeRouterBeat(old), { routerId: 'r', stopping: true });
  const items = [0, 1, 2].map((i) => encodeRoutePublish({ mountpoint: 'm', message: message(i) }));
  const back: string[] = [];
  decodeRouteBatch(encodeRouteBatch(items), (p) => back.push(`${p.mountpoint}:${p.message.payload.toString()}`));
  assert.deepEqual(back, ['m:0', 'm:1', 'm:2']);
});

test('a turn of QoS 0 publishes is one batch for a batching router, single messages for one that is not', async () => {
  const bus = natsLike(createMemoryBus());
  const choice = new RouterChoice({ bus, subjects, shards: SHARDS, heartbeatMs: 60_000, log: silentLogger });
  await choice.start();
  const batched: string[] = [];
  let batches = 0;
  const single: string[] = [];
  for (const id of ['new', 'old']) {
    bus.subscribe(subjects.routeBatchTo(id), (m) => {
      batches++;
      decodeRouteBatch(m.data, (p) => batched.push(`${id}:${p.message.payload.toString()}`));
    });
    bus.subscribe(subjects.routePublishTo(id), (m) => single.push(`${id}:${decodeRoutePublish(m.data).message.payload.toString()}`));
  }
  bus.publish(subjects.routerHeartbeat, encodeRouterBeat({ routerId: 'new', stopping: false, batches: true }));
  bus.publish(subjects.routerHeartbeat, encodeRouterBeat({ routerId: 'old', stopping: false }));
  await until(() => choice.routers().length === 2, 'both routers known');
  const shardOf = (id: string) => Array.from({ length: SHARDS }, (_, s) => s).find((s) => choice.subjectFor(s) === subjects.routePublishTo(id))!;
  const [toNew, toOld] = [shardOf('new'), shardOf('old')];
  assert.ok(toNew !== undefined && toOld !== undefined);

  for (let i = 0; i < 50; i++) {
    choice.publish(toNew, encodeRoutePublish({ mountpoint: '', message: message(i) }));
    choice.publish(toOld, encodeRoutePublish({ mountpoint: '', message: message(i) }));
  }
  await until(() => batched.length === 50 && single.length === 50, 'all 100 publishes');
  const want = (id: string) => Array.from({ length: 50 }, (_, i) => `${id}:${i}`);
  assert.deepEqual(batched, want('new'), 'in order, to the batching router only');
  assert.deepEqual(single, want('old'), 'in order, one by one to the older router');
  assert.equal(batches, 1, 'one batch message for the turn');
  choice.stop();
});
