import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RingQueue } from '../../common/src/ring-queue.js';

/**
 * RingQueue against an array model: any mix of push, shift, clear, peek, at and iteration, from any
 * initial capacity, gives what the array gives. Queues allocate their slots on the first push, so
 * empty queues (never pushed, or cleared) are exercised as much as full and wrapped ones.
 */
type Op = { kind: 'push'; v: number } | { kind: 'shift' } | { kind: 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.integer().map((v) => ({ kind: 'push' as const, v })) },
  { weight: 4, arbitrary: fc.constant({ kind: 'shift' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

describe('RingQueue is a FIFO', () => {
  it('matches an array for any sequence of operations', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.array(op, { maxLength: 300 }), (cap, ops) => {
        const q = new RingQueue<number>(cap);
        const model: number[] = [];
        for (const o of ops) {
          if (o.kind === 'push') {
            q.push(o.v);
            model.push(o.v);
          } else if (o.kind === 'shift') {
            assert.equal(q.shift(), model.shift());
          } else {
            q.clear();
            model.length = 0;
          }
          assert.equal(q.length, model.length);
          assert.equal(q.peek(), model[0]);
          assert.equal(q.at(model.length - 1), model[model.length - 1]);
          assert.equal(q.at(model.length), undefined);
        }
        assert.deepEqual([...q], model);
      }),
      { numRuns: 300 },
    );
  });

  it('a queue never pushed to shares no slots with another', () => {
    const a = new RingQueue<string>();
    const b = new RingQueue<string>();
    a.push('x');
    assert.equal(b.length, 0);
    assert.equal(b.peek(), undefined);
    assert.deepEqual([...b], []);
    assert.deepEqual([...a], ['x']);
  });
});
