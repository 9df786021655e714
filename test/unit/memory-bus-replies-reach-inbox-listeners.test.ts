import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BusMsg, createMemoryBus } from '../../common/src/bus/index.js';
import { tokenGeneration, tokenSlot, tokenText } from '../../common/src/bus/pending-table.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The memory bus skips the route lookup for a request's reply while no subscription can match
 * `_INBOX.…`; a subscription that can (added before or between requests, wildcard or not) still
 * gets every reply, as on NATS, and the requester always gets its answer.
 */
test('replies reach the requester, and every subscription matching the reply subject, as subscriptions come and go', async () => {
  const bus = createMemoryBus();
  try {
    bus.subscribe('svc.echo', (m) => void m.respond(Uint8Array.from(m.data).reverse()));
    const ask = async (body: string) => dec.decode((await bus.request('svc.echo', enc.encode(body), { timeoutMs: 10_000 })).data);

    assert.equal(await ask('ab'), 'ba', 'no inbox listener');

    for (const filter of ['_INBOX.>', '*.>', '>', '_INBOX.*.*']) {
      const seen: BusMsg[] = [];
      const listener = bus.subscribe(filter, (m) => {
        if (m.subject.startsWith('_INBOX.')) seen.push(m);
      });
      assert.equal(await ask('cd'), 'dc', `requester answered with ${filter} listening`);
      await bus.flush();
      assert.equal(seen.length, 1, `${filter} saw the reply`);
      assert.equal(dec.decode(seen[0]!.data), 'dc');
      listener.unsubscribe();
      assert.equal(await ask('ef'), 'fe', `requester answered after ${filter} left`);
      await bus.flush();
      assert.equal(seen.length, 1, `${filter} gets nothing after it unsubscribed`);
    }

    // An exact subscription to the reply subject a request will use: learnt from a first request.
    let reply = '';
    const spy = bus.subscribe('svc.spy', (m) => {
      reply = m.reply ?? '';
      m.respond(enc.encode('first'));
    });
    await bus.request('svc.spy', enc.encode('?'), { timeoutMs: 10_000 });
    spy.unsubscribe();
    const prefix = reply.slice(0, reply.lastIndexOf('.') + 1);
    // One request in flight at a time: the next one takes the slot this one freed, under the next
    // generation (pending-table.ts).
    const next = `${prefix}${tokenText(tokenSlot(reply, prefix.length), tokenGeneration(reply, prefix.length) + 1)}`;
    const exact: BusMsg[] = [];
    const exactSub = bus.subscribe(next, (m) => exact.push(m));
    assert.equal(await ask('gh'), 'hg');
    await bus.flush();
    assert.equal(exact.length, 1, 'an exact subscription to the reply subject saw the reply');
    exactSub.unsubscribe();
  } finally {
    await bus.close();
  }
});
