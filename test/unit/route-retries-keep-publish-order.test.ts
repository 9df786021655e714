import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NoRespondersError, RequestTimeoutError } from '../../common/src/index.js';
import { OrderedRouteRetry } from '../../gateway/src/ordered-route-retry.js';

// [MQTT-4.6.0-6] one connection's QoS 1 messages reach the router in the order published, even
// when the first ones find no router and are retried while the router joins.

const policy = { attempts: 6, firstDelayMs: 2, maxDelayMs: 8, growth: 'double', jitterRatio: 0.5 } as const;

/** A bus whose router is missing until `join()`; records what it took, in order. */
function fakeRouter(failure: () => Error) {
  let present = false;
  const took: number[] = [];
  const send = (n: number) => async () => {
    await new Promise((r) => setImmediate(r));
    if (!present) throw failure();
    took.push(n);
    return n;
  };
  return { took, send, join: () => (present = true) };
}

for (const [what, failure] of [
  ['no router answers', () => new NoRespondersError('mqtt.route.pub')],
  ['the router times out', () => new RequestTimeoutError('mqtt.route.pub', 5)],
] as const) {
  test(`${what} for the first messages: their retries and the messages published meanwhile arrive in publish order`, async () => {
    const retry = new OrderedRouteRetry<number>(policy);
    const r = fakeRouter(failure);
    const answers: Array<Promise<number>> = [];
    // Pipelined, as a gateway sends a burst of PUBLISH: 0-4 find no router...
    for (let n = 0; n < 5; n++) answers.push(retry.run(7, r.send(n)));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(retry.waiting(7), true, 'the failed ones wait for their retry');
    // ...the router joins while they wait, and 5-9 are published: they must not overtake.
    r.join();
    for (let n = 5; n < 10; n++) answers.push(retry.run(7, r.send(n)));
    assert.deepEqual(await Promise.all(answers), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(r.took, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'the router took them in publish order');
    assert.equal(retry.waiting(7), false, 'the queue is gone once empty');
  });
}

test('another connection is not held behind a connection whose messages are retried', async () => {
  const retry = new OrderedRouteRetry<number>(policy);
  let blocked = true;
  const stuck = retry.run(1, async () => {
    if (blocked) throw new NoRespondersError('x');
    return 'late';
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(retry.waiting(1), true);
  assert.equal(await retry.run(2, async () => 'now'), 'now');
  blocked = false;
  assert.equal(await stuck, 'late');
});

test('an error that is not worth a retry fails that message only; after the last attempt the error is the answer', async () => {
  const retry = new OrderedRouteRetry<number>({ ...policy, attempts: 2 });
  await assert.rejects(
    retry.run(1, async () => {
      throw new Error('bad');
    }),
    /bad/,
  );
  await assert.rejects(
    retry.run(1, async () => {
      throw new NoRespondersError('x');
    }),
    NoRespondersError,
  );
  assert.equal(await retry.run(1, async () => 'ok'), 'ok');
  assert.equal(retry.waiting(1), false);
});
