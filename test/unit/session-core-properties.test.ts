import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { GwOut } from '../../common/src/envelope/gateway-out.js';
import type { Session } from '../../session-actor/src/core/session.js';
import { msg, SessionCoreHarness, type Conn } from '../support/session-core-harness.js';
import { fuzzParams } from '../support/fuzz-params.js';

// Random sequences of router deliveries, client PUBACKs, connection losses and reconnections
// for three persistent MQTT 5 clients, fed to the pure session core through the harness.
// After every step: no QoS 1 message the session accepted is lost (it was PUBACKed by the
// client, or is still in flight or queued, or its drop was counted), packet ids in flight on a
// connection are unique, and the in-flight window and queue bounds hold.

const CLIENTS = ['c0', 'c1', 'c2'] as const;
/** PUBACKs sent over all runs: the properties are only meaningful if messages really flow. */
let totalAcked = 0;

type Cmd = { t: 'deliver'; to: number[] } | { t: 'puback'; client: number; pick: number } | { t: 'lost'; client: number } | { t: 'connect'; client: number };

const client = fc.nat({ max: CLIENTS.length - 1 });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('deliver' as const), to: fc.uniqueArray(client, { minLength: 1, maxLength: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('puback' as const), client, pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('lost' as const), client }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('connect' as const), client }) },
);

/** Every message payload (a sequence number) held by a session: in flight or queued. */
function held(s: Session): Set<string> {
  const out = new Set<string>();
  for (const f of s.inflight.values()) out.add(f.message.payload.toString());
  for (let i = 0; i < s.queue.length; i++) {
    const d = s.queue.shift()!;
    out.add(d.message.payload.toString());
    s.queue.push(d);
  }
  return out;
}

function run(cmds: Cmd[], limits: { maxInflight: number; maxQueuedMessages: number; receiveMaximum: number }): void {
  const h = new SessionCoreHarness({ maxInflight: limits.maxInflight, maxQueuedMessages: limits.maxQueuedMessages });
  const conns: Array<Conn | undefined> = [];
  /** Per client: packet id -> payload of PUBLISHes sent on the current connection and not yet PUBACKed. */
  const outstanding: Array<Map<number, string>> = CLIENTS.map(() => new Map());
  const accepted: Array<Set<string>> = CLIENTS.map(() => new Set());
  const acked: Array<Set<string>> = CLIENTS.map(() => new Set());
  let seq = 0;

  const connect = (i: number) => {
    const c = h.connect(CLIENTS[i]!, { cleanStart: false, sessionExpiryS: 3600, receiveMaximum: limits.receiveMaximum });
    conns[i] = c;
    outstanding[i]!.clear();
  };
  const collect = (i: number) => {
    const c = conns[i];
    if (!c) return;
    for (const it of h.itemsFor(c)) {
      if (it.kind !== GwOut.Publish) continue;
      const payload = it.message.payload.toString();
      const prev = outstanding[i]!.get(it.packetId);
      // [MQTT-2.2.1-3] a packet id in use is not reused; a resend carries the same message (DUP).
      assert.ok(prev === undefined || (prev === payload && it.dup), `packet id ${it.packetId} reused on ${CLIENTS[i]}: ${prev} then ${payload}`);
      outstanding[i]!.set(it.packetId, payload);
    }
    h.clearItems(c);
  };

  CLIENTS.forEach((_, i) => {
    connect(i);
    h.subscribe(conns[i]!, 't/#', { qos: 1 });
    collect(i);
  });

  for (const c of cmds) {
    switch (c.t) {
      case 'deliver': {
        const payload = String(++seq);
        h.deliver(
          msg('t/x', payload, 1),
          c.to.map((i) => CLIENTS[i]!),
          1,
        );
        for (const i of c.to) accepted[i]!.add(payload);
        break;
      }
      case 'puback': {
        const ids = [...outstanding[c.client]!.keys()];
        const conn = conns[c.client];
        if (ids.length === 0 || !conn) break;
        const id = ids[c.pick % ids.length]!;
        acked[c.client]!.add(outstanding[c.client]!.get(id)!);
        totalAcked++;
        outstanding[c.client]!.delete(id);
        h.puback(conn, id);
        break;
      }
      case 'lost': {
        const conn = conns[c.client];
        if (!conn) break;
        h.connLost(conn);
        conns[c.client] = undefined;
        outstanding[c.client]!.clear();
        break;
      }
      case 'connect':
        connect(c.client);
        break;
    }
    CLIENTS.forEach((_, i) => collect(i));

    const dropped = h.count('queue_full_dropped') + h.count('queue_oldest_dropped');
    let missing = 0;
    CLIENTS.forEach((name, i) => {
      const s = h.session(name);
      assert.ok(s, `session ${name} exists`);
      const inSession = held(s);
      for (const p of accepted[i]!) if (!acked[i]!.has(p) && !inSession.has(p)) missing++;
      assert.ok(s.inflight.size <= Math.min(limits.maxInflight, limits.receiveMaximum), `in flight ${s.inflight.size}`);
      assert.ok(s.queue.length <= limits.maxQueuedMessages, `queued ${s.queue.length}`);
      // Every id outstanding on the connection is one the session still holds in flight.
      for (const id of outstanding[i]!.keys()) assert.ok(s.inflight.has(id), `${name}: packet id ${id} outstanding but not in flight`);
    });
    assert.ok(missing <= dropped, `${missing} accepted QoS 1 messages lost, ${dropped} drops counted`);
  }
}

test('no accepted QoS 1 message is lost; packet ids are unique in flight (ample queues)', () => {
  fc.assert(
    fc.property(fc.array(cmd, { maxLength: 80 }), (cmds) => run(cmds, { maxInflight: 4, maxQueuedMessages: 1000, receiveMaximum: 3 })),
    fuzzParams(300),
  );
  assert.ok(totalAcked > 100, `only ${totalAcked} PUBACKs in all runs`);
});

test('queue and window bounds hold under overflow, and every lost message is a counted drop', () => {
  fc.assert(
    fc.property(fc.array(cmd, { maxLength: 80 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), (cmds, maxQueued, window) =>
      run(cmds, { maxInflight: window, maxQueuedMessages: maxQueued, receiveMaximum: 65535 }),
    ),
    fuzzParams(300),
  );
});
