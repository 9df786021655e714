import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_SLOTS, PendingTable, parseToken, tokenText } from '../../common/src/bus/pending-table.js';

/**
 * The table of requests awaiting a reply (pending-table.ts) against a Map model: any mix of adding
 * requests and answering tokens (live, answered already, or never issued) finds exactly the request
 * the token was issued for, once; a reused slot never answers its previous occupant's token. And a
 * reply subject's token reads back exactly as written, nothing else reads as a token.
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
        const model = new Map<number, number>();
        const issued: number[] = [];
        let next = 0;
        for (const o of ops) {
          if (o.kind === 'add') {
            const item = next++;
            const token = table.add(item);
            assert.ok(!issued.includes(token), 'a token is never issued twice');
            issued.push(token);
            model.set(token, item);
          } else if (o.kind === 'take') {
            // Any token issued so far (live or answered), or one never issued.
            const token = issued.length > 0 && o.pick % 5 !== 0 ? issued[o.pick % issued.length]! : o.pick;
            assert.equal(table.get(token), model.get(token));
            assert.equal(table.take(token), model.get(token));
            model.delete(token);
            assert.equal(table.take(token), undefined, 'a second answer finds nothing');
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

  it('reuses the slot of an answered request under a new token', () => {
    const table = new PendingTable<string>();
    const first = table.add('a');
    assert.equal(table.take(first), 'a');
    const second = table.add('b');
    assert.equal(second % MAX_SLOTS, first % MAX_SLOTS, 'same slot');
    assert.notEqual(second, first);
    assert.equal(table.get(first), undefined, 'the late reply to the first request finds nothing');
    assert.equal(table.get(second), 'b');
  });

  it('reads back every token as written and refuses any other text', () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.string({ maxLength: 4 }), (token, prefix) => {
        assert.equal(parseToken(prefix + tokenText(token), prefix.length), token);
      }),
    );
    for (const bad of ['', '00', '01', 'A', '-1', '+1', ' 1', '1 ', '1.2', 'z_', 'zzzzzzzzzzzzzzzz']) assert.equal(parseToken(bad), -1, JSON.stringify(bad));
  });
});
