import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectReadsPerTurn, type HeldReader } from '../../gateway/src/connect-reads-per-turn.js';

/** The gateway's bound on connections without CONNECT whose input is handled per event-loop turn (mqtt.maxConnectsPerTurn). */

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

function reader(name: string, log: string[]): HeldReader {
  return { readHeld: (chunk: Buffer) => log.push(`${name}:${chunk.toString()}`) };
}

describe('ConnectReadsPerTurn', () => {
  test('admits `perTurn` per turn; the rest are held, counted, and handed back in arrival order, `perTurn` per later turn', async () => {
    let holds = 0;
    const log: string[] = [];
    const turns = new ConnectReadsPerTurn(2, () => holds++);
    const rs = Array.from({ length: 5 }, (_, i) => reader(`r${i}`, log));
    const admitted = rs.map((r, i) => turns.admit(r, Buffer.from(`c${i}`)));
    assert.deepEqual(admitted, [true, true, false, false, false]);
    assert.equal(holds, 3);
    assert.deepEqual(
      rs.map((r) => turns.holds(r)),
      [false, false, true, true, true],
    );
    await nextTurn();
    assert.deepEqual(log, ['r2:c2', 'r3:c3']);
    assert.equal(turns.holds(rs[2]!), false);
    assert.equal(turns.holds(rs[4]!), true);
    await nextTurn();
    assert.deepEqual(log, ['r2:c2', 'r3:c3', 'r4:c4']);
    assert.equal(turns.holds(rs[4]!), false);
  });

  test('while input is held, a newcomer waits behind it even when the turn has room', async () => {
    const log: string[] = [];
    const turns = new ConnectReadsPerTurn(1, () => {});
    const [a, b, c] = ['a', 'b', 'c'].map((n) => reader(n, log));
    assert.equal(turns.admit(a!, Buffer.from('1')), true);
    assert.equal(turns.admit(b!, Buffer.from('1')), false);
    await nextTurn(); // b is handed back: this turn's room is used
    assert.deepEqual(log, ['b:1']);
    await nextTurn(); // a turn without input: room again
    assert.equal(turns.admit(c!, Buffer.from('1')), true);
  });

  test('two chunks held for one connection come back in order, and it counts as held until the last', async () => {
    const log: string[] = [];
    const turns = new ConnectReadsPerTurn(1, () => {});
    const a = reader('a', log);
    const b = reader('b', log);
    assert.equal(turns.admit(a, Buffer.from('x')), true);
    assert.equal(turns.admit(b, Buffer.from('1')), false);
    assert.equal(turns.admit(b, Buffer.from('2')), false);
    await nextTurn();
    assert.deepEqual(log, ['b:1']);
    assert.equal(turns.holds(b), true);
    await nextTurn();
    assert.deepEqual(log, ['b:1', 'b:2']);
    assert.equal(turns.holds(b), false);
  });
});
