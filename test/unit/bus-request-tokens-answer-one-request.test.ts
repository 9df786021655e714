import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PendingTable, tokenGeneration, tokenSlot, tokenText } from '../../common/src/bus/pending-table.js';

/**
 * The table of requests awaiting a reply (pending-table.ts) against a Map model: any mix of adding
 * requests and answering (slot, generation) names (live, answered already, or never issued) finds
 * exactly the request the name was issued for, once; a reused slot never answers its previous
 * occupant's name. And a reply subject's token reads back exactly as written, nothing else reads as
 * a token.
 */
type Op = { kind: 'add' } | { kind: 'take'; pick: number } | { kind: 'takeAll' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: 'add' as const }) },
  { weight: 5, arbitrary: fc.nat().map((pick) => ({ kind: 'take' as const, pick })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'takeAll' as const }) },
);

describe('bus request tokens answer one request', () => {
  it('matches a Map for any sequence of requests and answers', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const table = new PendingTable<number>();
        const model = new Map<string, number>();
        const issued: Array<[number, number]> = [];
        const key = ([slot, gen]: [number, number]) => `${slot}/${gen}`;
        let next = 0;
        for (const o of ops) {
          if (o.kind === 'add') {
            const item = next++;
            const slot = table.add(item);
            const name: [number, number] = [slot, table.generationOf(slot)];
            assert.ok(!issued.some((n) => key(n) === key(name)), 'a name is never issued twice');
            issued.push(name);
            model.set(key(name), item);
          } else if (o.kind === 'take') {
            // Any name issued so far (live or answered), or one never issued.
            const name: [number, number] = issued.length > 0 && o.pick % 5 !== 0 ? issued[o.pick % issued.length]! : [o.pick % 7, o.pick % 3];
            assert.equal(table.get(...name), model.get(key(name)));
            assert.equal(table.take(...name), model.get(key(name)));
            model.delete(key(name));
            assert.equal(table.take(...name), undefined, 'a second answer finds nothing');
          } else {
            assert.deepEqual(
              table.takeAll().sort((a, b) => a - b),
              [...model.values()].sort((a, b) => a - b),
            );
            model.clear();
          }
          assert.equal(table.size, model.size);
        }
      }),
    );
  });

  it('reuses the slot of an answered request under a new generation', () => {
    const table = new PendingTable<string>();
    const first = table.add('a');
    const firstGen = table.generationOf(first);
    assert.equal(table.take(first, firstGen), 'a');
    const second = table.add('b');
    assert.equal(second, first, 'same slot');
    assert.notEqual(table.generationOf(second), firstGen);
    assert.equal(table.get(first, firstGen), undefined, 'the late reply to the first request finds nothing');
    assert.equal(table.get(second, table.generationOf(second)), 'b');
  });

  it('reads back every token as written and refuses any other text', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.string({ maxLength: 4 }), (slot, gen, prefix) => {
        const text = prefix + tokenText(slot, gen);
        assert.equal(tokenSlot(text, prefix.length), slot);
        assert.equal(tokenGeneration(text, prefix.length), gen);
      }),
    );
    for (const bad of ['', '_', '1', '1_', '_1', '00_1', '1_01', 'A_1', '-1_1', '1_+1', ' 1_1', '1_1 ', '1_1_1', '1.2_1', 'zzzzzzz_1', '1_zzzzzz']) {
      assert.equal(tokenSlot(bad, 0), -1, JSON.stringify(bad));
      assert.equal(tokenGeneration(bad, 0), -1, JSON.stringify(bad));
    }
  });
});
