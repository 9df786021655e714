import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SessIn, type SessionInEnv } from '../../common/src/index.js';
import type { Continuation, Effect } from '../../session-actor/src/core/effects.js';
import { ReplyAfterContinuation } from '../../session-actor/src/runner/reply-after-continuation.js';

const subscribe = (packetId: number, epoch = 1) => ({ kind: SessIn.Subscribe, key: '/dev-1', epoch, packetId }) as unknown as SessionInEnv;
const pubAck = { kind: SessIn.PubAck, key: '/dev-1', epoch: 1, packetId: 7 } as unknown as SessionInEnv;
const suback = (packetId: number): Continuation => ({ kind: 'suback', key: '/dev-1', incarnation: 1, epoch: 1, packetId, codes: [1], retained: [], added: [], touched: [] });
const subsEffect = (then: Continuation): Effect => ({ t: 'subs', batch: { changes: [], retainedFor: [] }, then }) as Effect;

describe('a gateway request is answered with the continuation that sends the SUBACK', () => {
  test('a turn with a continuation keeps its answer until the continuation is taken', () => {
    const r = new ReplyAfterContinuation();
    const answered: string[] = [];
    const then = suback(3);
    assert.equal(
      r.hold(0, subscribe(3), [subsEffect(then)], () => answered.push('first')),
      undefined,
      'nothing to answer with the write',
    );
    assert.deepEqual(answered, []);
    const release = r.take(then);
    assert.ok(release);
    release();
    assert.deepEqual(answered, ['first']);
    assert.equal(r.take(then), undefined, 'taken once');
    assert.equal(r.size, 0);
  });

  test('a turn without a continuation, or an envelope no continuation answers, is answered with its write', () => {
    const r = new ReplyAfterContinuation();
    const respond = () => {};
    assert.equal(r.hold(0, subscribe(3), [{ t: 'count', what: 'queue_over_limit' } as Effect], respond), respond);
    assert.equal(r.hold(0, pubAck, [subsEffect(suback(3))], respond), respond);
    assert.equal(r.size, 0);
  });

  test('a resend while the first is routed joins it: one answer each, the envelope not taken again', () => {
    const r = new ReplyAfterContinuation();
    const answered: string[] = [];
    const then = suback(3);
    r.hold(0, subscribe(3), [subsEffect(then)], () => answered.push('first'));
    assert.equal(
      r.join(0, subscribe(3), () => answered.push('resend')),
      true,
    );
    assert.equal(
      r.join(0, subscribe(4), () => answered.push('other id')),
      false,
      'another packet id is taken',
    );
    assert.equal(
      r.join(0, subscribe(3, 2), () => answered.push('other epoch')),
      false,
      'another connection is taken',
    );
    assert.equal(
      r.join(1, subscribe(3), () => answered.push('other shard')),
      false,
    );
    r.take(then)?.();
    assert.deepEqual(answered, ['first', 'resend']);
    assert.equal(
      r.join(0, subscribe(3), () => {}),
      false,
      'after the SUBACK the id is free again',
    );
  });

  test('a shard that left the process answers nothing of what waited, and a later resend is taken anew', () => {
    const r = new ReplyAfterContinuation();
    const answered: string[] = [];
    r.hold(5, subscribe(3), [subsEffect(suback(3))], () => answered.push('first'));
    r.drop(5);
    assert.equal(r.size, 0);
    assert.equal(
      r.join(5, subscribe(3), () => answered.push('resend')),
      false,
    );
    assert.deepEqual(answered, []);
  });
});
