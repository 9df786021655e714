import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeSessionIn, encodeSessionIn, SessIn } from '../../common/src/envelope/session-in.js';

test('a Deliver envelope carries the router-given id (used to drop retried copies) and works without one', () => {
  const message = { topic: 't', payload: Buffer.from('x'), qos: 1 as const, retain: false, origin: 'p' };
  const targets = [{ key: 'k', qos: 1 as const, retainAsPublished: false, subIds: [3], group: 'g' }];
  const withId = decodeSessionIn(encodeSessionIn({ kind: SessIn.Deliver, targets, message, id: 'r1.42' }));
  assert.equal(withId.kind === SessIn.Deliver && withId.id, 'r1.42');
  assert.equal(withId.kind === SessIn.Deliver && withId.targets[0]!.group, 'g');
  const without = decodeSessionIn(encodeSessionIn({ kind: SessIn.Deliver, targets, message }));
  assert.equal(without.kind === SessIn.Deliver && without.id, undefined);
  assert.equal(without.kind === SessIn.Deliver && without.message.payload.toString(), 'x');
});
