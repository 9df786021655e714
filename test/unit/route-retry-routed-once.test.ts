import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createMemoryBus, type Bus, type BusMsg } from '../../common/src/bus/index.js';
import { loadConfig } from '../../common/src/config/load-config.js';
import type { Config } from '../../common/src/config/settings.js';
import { decodeRoutePublish, encodeRoutePublish, encodeSubChanges, ROUTE_OK, SubOp, type RoutePublish } from '../../common/src/envelope/router.js';
import { decodeSessionIn, SessIn } from '../../common/src/envelope/session-in.js';
import { silentLogger } from '../../common/src/log.js';
import { Metrics } from '../../common/src/metrics.js';
import { shardOf } from '../../common/src/shard.js';
import { subjectSpace } from '../../common/src/subjects.js';
import { RouterService } from '../../router/src/router-service.js';

// A publisher's gateway retries a QoS 1 route request whose answer was late, with the same
// route id: the router routes it once and answers every attempt alike; the Deliver copies'
// ids derive from the route id, so a retry that another router handles makes the same ids
// (the shard owner takes the copy once). Without this the subscriber got a second copy
// without DUP.

const subjects = subjectSpace();
let bus: Bus;
let config: Config;
let router: RouterService;
const delivers: Array<{ id?: string }> = [];
let holdAnswers = true;
const held: BusMsg[] = [];

before(async () => {
  config = loadConfig({ env: { SHARDMQ_SHARDS: '8' }, argv: [] });
  bus = createMemoryBus();
  router = RouterService.create(config, { bus, subjects, metrics: new Metrics(false), log: silentLogger });
  await router.start();
  // The shard owner of 'k1': records Deliver copies, answers when the test lets it.
  bus.subscribe(subjects.sessionIn(shardOf('k1', config.shards)), (m) => {
    const e = decodeSessionIn(m.data);
    if (e.kind !== SessIn.Deliver) return;
    delivers.push({ id: e.id });
    if (holdAnswers) held.push(m);
    else m.respond(Buffer.from([0]));
  });
  const add = { op: SubOp.Add, key: 'k1', mountpoint: '', filter: 't', qos: 1 as const, noLocal: false, retainAsPublished: false, subId: 0 };
  await bus.request(subjects.routeSubscription, encodeSubChanges({ changes: [add], retainedFor: [] }), { timeoutMs: 5000 });
});

after(async () => {
  await router.stop();
});

function routeRequest(p: RoutePublish): Promise<number> {
  return bus.request(subjects.routePublish, encodeRoutePublish(p), { timeoutMs: 10_000 }).then((r) => r.data[0]!);
}

test('the route envelope keeps its id with and without a $share group', () => {
  const message = { topic: 't', payload: Buffer.from('x'), qos: 1 as const, retain: false, origin: 'p' };
  for (const p of [
    { mountpoint: '', message, id: 'abc1' },
    { mountpoint: 'm', message, group: 'g', exclude: 'k', id: 'abc2' },
    { mountpoint: '', message, group: 'g', exclude: 'k' },
  ]) {
    const back = decodeRoutePublish(encodeRoutePublish(p));
    assert.equal(back.id, p.id);
    assert.equal(back.group, p.group);
    assert.equal(back.exclude, p.exclude);
  }
});

test("a retried QoS 1 route request (same id) is routed once and every attempt gets the first attempt's answer", async () => {
  const message = { topic: 't', payload: Buffer.from('once'), qos: 1 as const, retain: false, origin: 'p' };
  const first = routeRequest({ mountpoint: '', message, id: 'gwX1' });
  await new Promise((r) => setTimeout(r, 50));
  const retryWhilePending = routeRequest({ mountpoint: '', message, id: 'gwX1' });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(delivers.length, 1, 'one Deliver copy while the first attempt waits for the owner');
  holdAnswers = false;
  for (const m of held.splice(0)) m.respond(Buffer.from([0]));
  assert.equal(await first, ROUTE_OK);
  assert.equal(await retryWhilePending, ROUTE_OK);
  assert.equal(await routeRequest({ mountpoint: '', message, id: 'gwX1' }), ROUTE_OK, 'a retry after the answer');
  assert.equal(delivers.length, 1, 'still one Deliver copy');
  assert.equal(delivers[0]!.id, `gwX1.${shardOf('k1', config.shards)}`, 'the copy id derives from the route id and the shard');
  // A different publish is routed as usual.
  assert.equal(await routeRequest({ mountpoint: '', message, id: 'gwX2' }), ROUTE_OK);
  assert.equal(delivers.length, 2);
});
