import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectReadsPerTurn, type HeldReader } from '../../gateway/src/connect-reads-per-turn.js';

/**
 * The gateway's bound on the time one event-loop turn spends on connections without CONNECT
 * (mqtt.connectWorkPerTurnMs). The clock is the test's: each handled chunk "costs" what the test says.
 */

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

function setup(budgetMs: number, costMs: number) {
  let t = 0;
  let holds = 0;
  const log: string[] = [];
  const turns = new ConnectReadsPerTurn(
    budgetMs,
    () => holds++,
    () => t,
  );
  const reader = (name: string): HeldReader => ({
    readHeld: (chunk: Buffer) => {
      log.push(`${name}:${chunk.toString()}`);
      t += costMs;
    },
  });
  /** Offers a chunk as the gateway does: handled now (and costs time) or held. */
  const offer = (r: HeldReader, chunk: string): boolean => {
    const ok = turns.admit(r, Buffer.from(chunk));
    if (ok) r.readHeld(Buffer.from(chunk));
    return ok;
  };
  return { turns, reader, offer, log, holds: () => holds };
}

describe('ConnectReadsPerTurn', () => {
  test('handles input until the turn has spent its budget, holds the rest (counted) and hands it back in arrival order in later turns', async () => {
    const { turns, reader, offer, log, holds } = setup(10, 4); // 3 fit: at 0, 4 and 8 ms
    const rs = Array.from({ length: 7 }, (_, i) => reader(`r${i}`));
    const admitted = rs.map((r, i) => offer(r, `c${i}`));
    assert.deepEqual(admitted, [true, true, true, false, false, false, false]);
    assert.equal(holds(), 4);
    assert.deepEqual(
      rs.map((r) => turns.holds(r)),
      [false, false, false, true, true, true, true],
    );
    await nextTurn();
    assert.deepEqual(log.slice(3), ['r3:c3', 'r4:c4', 'r5:c5']);
    assert.equal(turns.holds(rs[5]!), false);
    assert.equal(turns.holds(rs[6]!), true);
    await nextTurn();
    assert.deepEqual(log.slice(6), ['r6:c6']);
    assert.equal(turns.holds(rs[6]!), false);
  });

  test('a budget of 0 still handles one connection per turn', async () => {
    const { reader, offer, log } = setup(0, 1);
    const [a, b, c] = ['a', 'b', 'c'].map(reader);
    assert.equal(offer(a!, '1'), true);
    assert.equal(offer(b!, '1'), false);
    assert.equal(offer(c!, '1'), false);
    await nextTurn();
    assert.deepEqual(log, ['a:1', 'b:1']);
    await nextTurn();
    assert.deepEqual(log, ['a:1', 'b:1', 'c:1']);
  });

  test('while input is held, a newcomer waits behind it even when the turn has time left', async () => {
    const { reader, offer, log } = setup(0, 0);
    const [a, b, c] = ['a', 'b', 'c'].map(reader);
    assert.equal(offer(a!, '1'), true);
    assert.equal(offer(b!, '1'), false);
    await nextTurn(); // b is handed back: this turn's one is used
    assert.deepEqual(log, ['a:1', 'b:1']);
    await nextTurn(); // a turn without input: room again
    assert.equal(offer(c!, '1'), true);
  });

  test('two chunks held for one connection come back in order, and it counts as held until the last', async () => {
    const { turns, reader, offer, log } = setup(0, 0);
    const a = reader('a');
    const b = reader('b');
    assert.equal(offer(a, 'x'), true);
    assert.equal(offer(b, '1'), false);
    assert.equal(offer(b, '2'), false);
    await nextTurn();
    assert.deepEqual(log, ['a:x', 'b:1']);
    assert.equal(turns.holds(b), true);
    await nextTurn();
    assert.deepEqual(log, ['a:x', 'b:1', 'b:2']);
    assert.equal(turns.holds(b), false);
  });

  test('deferred work (run) shares the budget: it runs now while the turn has room, else in a later turn after what waits, in order', async () => {
    let t = 0;
    const turns = new ConnectReadsPerTurn(
      10,
      () => undefined,
      () => t,
    );
    const log: string[] = [];
    const work = (name: string) => () => {
      log.push(name);
      t += 4;
    };
    const held: HeldReader = { readHeld: (c: Buffer) => log.push(`held:${c.toString()}`) };
    assert.equal(turns.run(work('w0')), true); // at 0 ms: ran now
    assert.equal(turns.run(work('w1')), true); // at 4 ms
    assert.equal(turns.run(work('w2')), true); // at 8 ms
    assert.equal(turns.run(work('w3')), false); // at 12 ms: no room left this turn, deferred
    assert.equal(turns.admit(held, Buffer.from('c')), false); // behind w3
    assert.equal(turns.run(work('w4')), false);
    assert.deepEqual(log, ['w0', 'w1', 'w2']);
    await nextTurn(); // w3 at 12, w4 at 16 (readHeld costs nothing here): all of it fits
    assert.deepEqual(log, ['w0', 'w1', 'w2', 'w3', 'held:c', 'w4']);
  });
});
