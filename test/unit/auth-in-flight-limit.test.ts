import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuthInFlightLimit } from '../../gateway/src/auth-in-flight-limit.js';

/** The gateway's bound on CONNECT authentications waiting for the auth service (mqtt.maxAuthInFlight). */

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const flush = () => new Promise<void>((r) => setImmediate(r));

describe('AuthInFlightLimit', () => {
  test('at most `limit` asks run at once; the rest start in arrival order as slots free, each wait counted', async () => {
    let waits = 0;
    const limit = new AuthInFlightLimit(2, () => waits++);
    const asks = Array.from({ length: 5 }, () => deferred<string>());
    const started: number[] = [];
    const answers = asks.map((d, i) =>
      limit.run(
        () => {
          started.push(i);
          return d.promise;
        },
        () => true,
        'gone',
      ),
    );
    await flush();
    assert.deepEqual(started, [0, 1]);
    assert.equal(waits, 3);
    assert.equal(limit.queued, 3);
    asks[1]!.resolve('b');
    await flush();
    assert.deepEqual(started, [0, 1, 2]);
    asks[0]!.resolve('a');
    asks[2]!.resolve('c');
    await flush();
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    asks[3]!.resolve('d');
    asks[4]!.resolve('e');
    assert.deepEqual(await Promise.all(answers), ['a', 'b', 'c', 'd', 'e']);
    assert.equal(limit.queued, 0);
  });

  test('a waiter whose connection is gone by its turn is answered `gone` without asking, and frees its slot', async () => {
    const limit = new AuthInFlightLimit(1, () => undefined);
    const first = deferred<string>();
    let asked = 0;
    const a = limit.run(
      () => first.promise,
      () => true,
      'gone',
    );
    const b = limit.run(
      () => {
        asked++;
        return Promise.resolve('b');
      },
      () => false,
      'gone',
    );
    const c = limit.run(
      () => Promise.resolve('c'),
      () => true,
      'gone',
    );
    first.resolve('a');
    assert.deepEqual(await Promise.all([a, b, c]), ['a', 'gone', 'c']);
    assert.equal(asked, 0);
  });

  test('a failing ask frees its slot for the next one', async () => {
    const limit = new AuthInFlightLimit(1, () => undefined);
    const a = limit.run(
      () => Promise.reject(new Error('boom')),
      () => true,
      'gone',
    );
    const b = limit.run(
      () => Promise.resolve('b'),
      () => true,
      'gone',
    );
    await assert.rejects(a, /boom/);
    assert.equal(await b, 'b');
  });

  test('a freed slot is handed to the next waiter through `pace` (the per-turn bound), not at once', async () => {
    const paced: Array<() => void> = [];
    const limit = new AuthInFlightLimit(
      1,
      () => undefined,
      (handOver) => paced.push(handOver),
    );
    const first = deferred<string>();
    const started: string[] = [];
    const a = limit.run(
      () => {
        started.push('a');
        return first.promise;
      },
      () => true,
      'gone',
    );
    const b = limit.run(
      () => {
        started.push('b');
        return Promise.resolve('b');
      },
      () => true,
      'gone',
    );
    first.resolve('a');
    assert.equal(await a, 'a');
    await flush();
    assert.deepEqual(started, ['a']);
    assert.equal(paced.length, 1);
    paced.shift()!();
    assert.equal(await b, 'b');
    assert.deepEqual(started, ['a', 'b']);
    assert.equal(limit.queued, 0);
  });
});
