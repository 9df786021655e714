import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GwOut } from '../../common/src/envelope/gateway-out.js';
import { SubOp } from '../../common/src/envelope/router.js';
import type { Effect } from '../../session-actor/src/core/effects.js';
import { describeViolations, simulate, type SimHooks, type SimProfile, type SimReport } from '../support/session-simulation.js';
import { effectsOf, msg, SessionCoreHarness, type Conn } from '../support/session-core-harness.js';

// docs/testing.md and docs/architecture.md: one seeded test runs many simulated clients, two gateways, publishers,
// a router and the runner's timers on a fake clock around the pure session core, injects
// faults, and checks invariants after every core call (test/support/session-simulation.ts).
// Replay or soak: SHARDMQ_SIM_SEED=<first seed> SHARDMQ_SIM_SEEDS=<count> SHARDMQ_SIM_STEPS=<steps>.

const FIRST_SEED = Number(process.env.SHARDMQ_SIM_SEED ?? 1);
const SEEDS = Number(process.env.SHARDMQ_SIM_SEEDS ?? 20);
const STEPS = Number(process.env.SHARDMQ_SIM_STEPS ?? 2000);
const seeds = Array.from({ length: SEEDS }, (_, i) => FIRST_SEED + i);

/**
 * Violation kinds of core bugs still open (none: the seven the simulation found are fixed). A kind
 * listed here is tolerated by the fault sweeps until its fix lands.
 */
const OPEN_BUGS: ReadonlyMap<string, string> = new Map();

const totals: Record<string, number> = {};

for (const seed of seeds) {
  test(`simulation seed ${seed}: ${STEPS} steps keep every invariant`, () => {
    const r = simulate(seed, STEPS);
    for (const [k, n] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + n;
    assert.deepEqual([...r.kinds.keys()], [], describeViolations(r));
  });
}

test('the simulation exercised every fault and path it claims to', () => {
  // Runs after the seed tests (node:test runs top-level tests in order).
  const want = [
    'connects',
    'takeovers',
    'count.takeover',
    'wills',
    'count.will_published',
    'count.session_expired',
    'count.queue_full_dropped',
    'count.expired_dropped',
    'count.too_large_dropped',
    'gateway.publish_too_large_dropped',
    'qos2_routed',
    'retained_answered',
    'fault.stale_replay',
    'fault.duplicate_timer',
    'fault.duplicate_deliver',
    'fault.duplicate_ack',
    'fault.gateway_gone',
    'fault.gateway_death',
    'fault.router_answer_reordered',
    'shared_rerouted',
  ];
  if (SEEDS * STEPS < 20_000) return; // a short replay need not cover everything
  const missing = want.filter((k) => !(totals[k]! > 0));
  assert.deepEqual(missing, [], JSON.stringify(totals));
  assert.ok(totals.core_calls! > (SEEDS * STEPS) / 4, `only ${totals.core_calls} core calls`);
});

test('the same seed gives the same run', () => {
  const a = simulate(7, 600);
  const b = simulate(7, 600);
  assert.deepEqual(a.stats, b.stats);
  assert.deepEqual([...a.kinds], [...b.kinds]);
  assert.notDeepEqual(simulate(8, 600).stats, a.stats);
});

// ------------------------------------------------------------------ the checks can fail

/** Runs seeds with a mutator corrupting the core's output until `kind` is reported. */
function caught(kind: string, hooks: SimHooks, patch: Partial<SimProfile> = {}): boolean {
  for (let seed = 1; seed <= 10; seed++) if (simulate(seed, 1500, patch, hooks).kinds.has(kind)) return true;
  return false;
}

test('checker: a queued message vanishing without a counted drop is reported as lost', () => {
  assert.ok(
    caught('message-lost', {
      afterCore: (st, label) => {
        if (!label.startsWith('deliver')) return;
        for (const s of st.sessions.values()) {
          const d = s.queue.peek();
          if (d && d.qos > 0) {
            s.queue.shift();
            s.queuedBytes -= d.message.payload.length + d.message.topic.length;
            return;
          }
        }
      },
    }),
  );
});

test('checker: a Will routed twice is reported', () => {
  assert.ok(
    caught('will-published-twice', {
      afterCore: (_st, _label, out) => {
        const w = out.find((e) => e.t === 'route' && !e.then);
        if (w) out.push(w);
      },
    }),
  );
});

test('checker: an owed Will that never goes out is reported', () => {
  assert.ok(
    caught('owed-will-not-published', {
      afterCore: (_st, _label, out) => {
        for (let i = out.length - 1; i >= 0; i--) {
          const e = out[i]!;
          if (e.t === 'route' && !e.then) out.splice(i, 1);
        }
      },
    }),
  );
});

test('checker: output for another epoch is reported', () => {
  assert.ok(
    caught('output-for-stale-epoch', {
      afterCore: (_st, _label, out) => {
        const i = out.findIndex((e) => e.t === 'gw' && e.item.kind === GwOut.Control);
        const e = out[i];
        if (e && e.t === 'gw') out[i] = { ...e, item: { ...e.item, epoch: (e.item.epoch + 1) >>> 0 } };
      },
    }),
  );
});

test('checker: deliveries sent out of order are reported', () => {
  assert.ok(
    caught('order', {
      afterCore: (_st, _label, out) => {
        const pubs = out.filter((e): e is Extract<Effect, { t: 'gw' }> => e.t === 'gw' && e.item.kind === GwOut.Publish);
        if (pubs.length < 2) return;
        const rest = out.filter((e) => !(pubs as Effect[]).includes(e));
        out.length = 0;
        out.push(...rest, ...pubs.reverse());
      },
    }),
  );
});

test('checker: a failed SUBSCRIBE whose undo never reaches the router is reported', () => {
  assert.ok(
    caught(
      'subscriptions-diverged-after-failed-subscribe',
      {
        afterCore: (_st, label, out) => {
          if (!label.startsWith('routed suback') || !label.includes('ok=false')) return;
          for (let i = out.length - 1; i >= 0; i--) if (out[i]!.t === 'subs') out.splice(i, 1);
        },
      },
      { subscribeFailRate: 0.3 },
    ),
  );
});

test('checker: a failed MQTT 5 UNSUBSCRIBE not undone in the session is reported', () => {
  assert.ok(
    caught(
      'unsubscribe-answer-wrong-subscriptions',
      {
        afterCore: (st, label, out) => {
          if (!label.startsWith('routed unsuback') || !label.includes('ok=false')) return;
          const s = st.sessions.get(label.split(' ')[2]!);
          for (const e of out)
            if (e.t === 'subs' && !e.then) for (const ch of e.batch.changes) if (ch.op === SubOp.Add) s?.subs.delete(ch.group !== undefined ? `$share/${ch.group}/${ch.filter}` : ch.filter);
        },
      },
      { unsubscribeFailRate: 0.3, unsubscribeHeldRate: 0.7 },
    ),
  );
});

// ------------------------------------------------------------------ faults that found core bugs
// Each sweep switches one fault on (bugs-sim.md #1-#4, fixed in 29497c3) and must keep every
// invariant, including the model of the fix; the repros are the smallest sequences.

const sweeps = new Map<string, SimReport[]>();
/** The seeds' reports with `patch` (computed once per patch: the todo sweeps reuse them). */
function sweep(patch: Partial<SimProfile>): SimReport[] {
  const id = JSON.stringify(patch);
  let rs = sweeps.get(id);
  if (!rs) sweeps.set(id, (rs = seeds.map((seed) => simulate(seed, STEPS, patch))));
  return rs;
}

/** Accounts of the runs with a violation `bad` accepts (none: the empty string). */
function failures(rs: SimReport[], bad: (kind: string) => boolean): string {
  return rs
    .filter((r) => [...r.kinds.keys()].some(bad))
    .map((r) => describeViolations(r, bad))
    .join('\n');
}

const notOpen = (k: string): boolean => !OPEN_BUGS.has(k);
const statSum = (rs: SimReport[], k: string): number => rs.reduce((n, r) => n + (r.stats[k] ?? 0), 0);
const SUB_FAULTS: Partial<SimProfile> = { subscribeFailRate: 0.15 };
const UNSUB_FAULTS: Partial<SimProfile> = { unsubscribeFailRate: 0.2, unsubscribeHeldRate: 0.7 };

test("sweep: router failures on SUBSCRIBE undo only what is still the request's, SUBACK 0x80, session and router agree", () => {
  assert.equal(failures(sweep(SUB_FAULTS), notOpen), '');
  if (SEEDS * STEPS >= 20_000) assert.ok(statSum(sweep(SUB_FAULTS), 'subscribe_undone') > 0, 'no SUBSCRIBE was undone');
});

test('sweep: router failures on UNSUBSCRIBE (5.0 undone with 0x80, 3.1.1 removal re-sent) keep session and router equal', () => {
  assert.equal(failures(sweep(UNSUB_FAULTS), notOpen), '');
  if (SEEDS * STEPS >= 20_000) assert.ok(statSum(sweep(UNSUB_FAULTS), 'unsubscribe_restored') > 0, 'no MQTT 5 UNSUBSCRIBE was undone');
});

test('sweep: QoS 2 publishes complete after router failures', () => {
  assert.equal(
    failures(sweep({ routeFailRate: 0.3 }), () => true),
    '',
  );
});

test('sweep: late timers never lose a Will or resume an expired session', () => {
  assert.equal(
    failures(sweep({ timerLatenessMs: 3000 }), () => true),
    '',
  );
});

test('sweep: all router failures and late timers at once', () => {
  const all = { subscribeFailRate: 0.15, unsubscribeFailRate: 0.2, unsubscribeHeldRate: 0.5, routeFailRate: 0.2, timerLatenessMs: 3000 };
  assert.equal(failures(sweep(all), notOpen), '');
});

function subackCodes(h: SessionCoreHarness, c: Conn, packetId: number): number[] | undefined {
  const p = h.packetsTo(c).find((x) => x.cmd === 'suback' && x.messageId === packetId) as { granted?: number[] } | undefined;
  return p?.granted;
}

function unsubackCodes(h: SessionCoreHarness, c: Conn, packetId: number): number[] | undefined {
  const p = h.packetsTo(c).find((x) => x.cmd === 'unsuback' && x.messageId === packetId) as { granted?: number[] } | undefined;
  return p ? (p.granted ?? []) : undefined;
}

/** The fire-and-forget subscription changes in `out`, as `op filter qos`. */
function indexChanges(out: Effect[]): string[] {
  return effectsOf(out, 'subs')
    .filter((e) => !e.then)
    .flatMap((e) => e.batch.changes.map((ch) => `${ch.op} ${ch.filter} ${ch.qos}`));
}

test('repro #1: SUBSCRIBE a/# twice, the first fails after the second succeeded: the second stands', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600 });
  const then1 = effectsOf(h.subscribe(c, 'a/#', { packetId: 1, ack: false }), 'subs')[0]!.then!;
  const then2 = effectsOf(h.subscribe(c, 'a/#', { packetId: 2, qos: 2, ack: false }), 'subs')[0]!.then!;
  h.subsRouted(then2, true); // the router has a/# (QoS 2)
  const out = h.subsRouted(then1, false); // the first request never reached it
  assert.equal(h.session('dev')!.subs.get('a/#')?.qos, 2, 'the session forgot a subscription the router holds');
  assert.deepEqual(indexChanges(out), [], 'a later SUBSCRIBE changed a/#: nothing to undo at the router');
  assert.deepEqual(subackCodes(h, c, 1), [0x80]);
  assert.deepEqual(subackCodes(h, c, 2), [2]);
});

test('repro #1: SUBSCRIBE fails after an UNSUBSCRIBE of the same filter succeeded: stays unsubscribed', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600 });
  h.subscribe(c, 'a/#', { packetId: 1 });
  const then2 = effectsOf(h.subscribe(c, 'a/#', { packetId: 2, qos: 2, ack: false }), 'subs')[0]!.then!;
  h.unsubscribe(c, ['a/#'], { packetId: 3 }); // the router removed a/#
  const out = h.subsRouted(then2, false);
  assert.equal(h.session('dev')!.subs.has('a/#'), false, 'the session resurrected a subscription the router no longer has');
  assert.deepEqual(indexChanges(out), []);
  assert.deepEqual(subackCodes(h, c, 2), [0x80]);
});

test('repro #1: a failed SUBSCRIBE restores the replaced subscription and tells the router again', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600 });
  h.subscribe(c, 'a/#', { packetId: 1, qos: 1 });
  h.subscribe(c, 'b/#', { packetId: 2, qos: 1 });
  const then = effectsOf(h.subscribe(c, ['a/#', 'n/#'], { packetId: 3, qos: 2, ack: false }), 'subs')[0]!.then!;
  const out = h.subsRouted(then, false); // the router may or may not have applied it
  const subs = h.session('dev')!.subs;
  assert.equal(subs.get('a/#')?.qos, 1);
  assert.equal(subs.has('n/#'), false);
  assert.equal(subs.get('b/#')?.qos, 1, 'a filter the SUBSCRIBE did not name is untouched');
  assert.deepEqual(indexChanges(out).sort(), [`${SubOp.Add} a/# 1`, `${SubOp.Remove} n/# 2`]);
  assert.deepEqual(subackCodes(h, c, 3), [0x80, 0x80]);
});

test('repro #2: a failed MQTT 5 UNSUBSCRIBE brings the subscription back with UNSUBACK 0x80', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev', { sessionExpiryS: 0 });
  h.subscribe(c, 'a/#');
  const then = effectsOf(h.unsubscribe(c, ['a/#', 'x/#'], { packetId: 5, ack: false }), 'subs')[0]!.then!;
  const out = h.subsRouted(then, false); // the router may still have a/#
  assert.equal(h.session('dev')!.subs.get('a/#')?.qos, 1, 'the session dropped a subscription the router may keep');
  assert.deepEqual(indexChanges(out), [`${SubOp.Add} a/# 1`]);
  assert.deepEqual(unsubackCodes(h, c, 5), [0x80, 0x11]);
});

test('repro #2: a failed MQTT 5 UNSUBSCRIBE leaves a filter subscribed again since alone', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev', { sessionExpiryS: 0 });
  h.subscribe(c, 'a/#', { packetId: 1, qos: 1 });
  const then = effectsOf(h.unsubscribe(c, ['a/#'], { packetId: 2, ack: false }), 'subs')[0]!.then!;
  h.subscribe(c, 'a/#', { packetId: 3, qos: 2 });
  const out = h.subsRouted(then, false);
  assert.equal(h.session('dev')!.subs.get('a/#')?.qos, 2);
  assert.deepEqual(indexChanges(out), []);
  assert.deepEqual(unsubackCodes(h, c, 2), [0]);
});

test('repro #2: a failed 3.1.1 UNSUBSCRIBE keeps the filter forgotten and sends the removal again', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev', { proto: 4, cleanStart: true });
  h.subscribe(c, 'a/#');
  const then = effectsOf(h.unsubscribe(c, ['a/#'], { packetId: 5, ack: false }), 'subs')[0]!.then!;
  const out = h.subsRouted(then, false);
  assert.equal(h.session('dev')!.subs.has('a/#'), false);
  assert.deepEqual(indexChanges(out), [`${SubOp.Remove} a/# 0`]);
  assert.deepEqual(unsubackCodes(h, c, 5), [], '3.1.1 UNSUBACK (no reason codes) still answers');
});

test('repro #2: a session without subscriptions left still clears the index at its end', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev', { sessionExpiryS: 0 });
  h.subscribe(c, 'a/#');
  h.unsubscribe(c, ['a/#']);
  assert.equal(h.session('dev')!.subs.size, 0);
  const end = h.disconnect(c);
  assert.deepEqual(indexChanges(end), [`${SubOp.RemoveKey}  0`], 'RemoveKey: a lost removal must not outlive the session');
  // A session that never subscribed has nothing to clear.
  const c2 = h.connect('other', { sessionExpiryS: 0 });
  assert.deepEqual(indexChanges(h.disconnect(c2)), []);
});

test('repro #3: QoS 2 route fails after the client reconnected and resent: MQTT 5 PUBREC 0x80 on the new connection', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600 });
  const m = msg('a/b', 'x', 2, { origin: 'dev' });
  const then = effectsOf(h.publish2(c1, 7, m), 'route')[0]!.then;
  h.connLost(c1);
  const c2 = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600 });
  assert.equal(effectsOf(h.publish2(c2, 7, m), 'route').length, 0, 'still pending: not routed twice');
  h.routed(then, 0x80);
  const pubrec = h.packetsTo(c2).filter((p) => p.cmd === 'pubrec' && p.messageId === 7) as Array<{ reasonCode?: number }>;
  assert.equal(pubrec.length, 1, 'the new connection never learns the outcome of packet id 7');
  assert.equal(pubrec[0]!.reasonCode, 0x80);
  assert.equal(h.session('dev')!.inboundQos2.has(7), false, 'packet id 7 is free for a new attempt');
});

test('repro #3: QoS 2 route fails after a 3.1.1 client reconnected and resent: the new connection is closed', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev', { proto: 4, cleanStart: false });
  const m = msg('a/b', 'x', 2, { origin: 'dev' });
  const then = effectsOf(h.publish2(c1, 7, m), 'route')[0]!.then;
  h.connLost(c1);
  const c2 = h.connect('dev', { proto: 4, cleanStart: false });
  h.publish2(c2, 7, m);
  h.routed(then, 0x80);
  assert.equal(h.closesOf(c2).length, 1, '3.1.1 has no failure code: close so the client resends');
  // The resend after the reconnect is routed anew.
  const c3 = h.connect('dev', { proto: 4, cleanStart: false });
  assert.equal(effectsOf(h.publish2(c3, 7, m), 'route').length, 1);
});

test('repro #4: reconnect after the Will Delay passed, before the timer fired: the Will goes out once', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600, will: { delayS: 10 } });
  h.connLost(c);
  h.now += 10_500; // the runner's timer is late (busy loop, or a new shard owner still re-arming)
  const c2 = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600 });
  assert.equal(h.wills().length, 1, 'the Will was due before the reconnect: [MQTT-3.1.3-9] publish it');
  assert.equal(c2.sessionPresent, true, 'the session itself has not expired');
  h.fireTimer('dev', 'will'); // the late timer fires after all
  h.advance(60_000);
  assert.equal(h.wills().length, 1, 'published exactly once');
});

test('repro #4: reconnect after the session expired, before the timer fired: a new session, its Will published', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev', { cleanStart: false, sessionExpiryS: 10, will: { delayS: 60 } });
  h.subscribe(c, 'a/#');
  h.connLost(c);
  h.now += 10_500;
  const c2 = h.connect('dev', { cleanStart: false, sessionExpiryS: 10 });
  assert.equal(c2.sessionPresent, false, 'the session expired 500 ms before the CONNECT [MQTT-3.1.2-23]');
  assert.equal(h.session('dev')!.subs.size, 0, 'nothing of the expired session resumes');
  assert.equal(h.count('session_expired'), 1);
  assert.equal(h.wills().length, 1, 'the session ended before the Will Delay: its Will goes out [MQTT-3.1.3-9]');
  h.fireTimer('dev', 'expiry');
  h.fireTimer('dev', 'will');
  assert.equal(h.wills().length, 1);
  assert.ok(h.session('dev')!.conn, 'the late timers leave the new session alone');
});

// ------------------------------------------------------------------ bugs #5-#7 (fixed): repros and sweeps

test('sweep: a failed SUBSCRIBE naming a filter twice restores the entry before the request', () => {
  assert.equal(
    failures(sweep(SUB_FAULTS), (k) => k === 'subscribe-undo-of-repeated-filter'),
    '',
  );
});

test('repro #5: SUBSCRIBE [a/# QoS 0, a/# QoS 2] fails: a/# is back to QoS 1', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev', { sessionExpiryS: 3600 });
  h.subscribe(c, 'a/#', { packetId: 1, qos: 1 });
  const req = (qos: 0 | 2) => ({ filter: 'a/#', qos, noLocal: false, retainAsPublished: false, retainHandling: 0 as const, rc: 0xff });
  const then = effectsOf(h.subscribe(c, [req(0), req(2)], { packetId: 2, ack: false }), 'subs')[0]!.then!;
  const out = h.subsRouted(then, false);
  assert.deepEqual(subackCodes(h, c, 2), [0x80, 0x80]);
  assert.equal(h.session('dev')!.subs.get('a/#')?.qos, 1, 'the client was told both failed, yet holds the first');
  assert.deepEqual(indexChanges(out), [`${SubOp.Add} a/# 1`]);
});

test('sweep: a re-sent removal never hits a filter the session holds', () => {
  assert.equal(
    failures(sweep(UNSUB_FAULTS), (k) => k === 'removal-sent-for-held-filter' || k === 'subscriptions-diverged-after-resent-removal'),
    '',
  );
});

test('repro #6: 3.1.1 UNSUBSCRIBE a/# fails after a/# was subscribed again: the router keeps it', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev', { proto: 4, cleanStart: false });
  h.subscribe(c, 'a/#', { packetId: 1 });
  const then = effectsOf(h.unsubscribe(c, ['a/#'], { packetId: 2, ack: false }), 'subs')[0]!.then!;
  h.subscribe(c, 'a/#', { packetId: 3, qos: 2 }); // the router has a/# again
  const out = h.subsRouted(then, false);
  assert.equal(h.session('dev')!.subs.get('a/#')?.qos, 2);
  assert.deepEqual(indexChanges(out), [], 'Remove a/# would drop the live subscription from the router');
});

test('sweep: a failed MQTT 5 UNSUBSCRIBE never overrides a later UNSUBSCRIBE of the filter', () => {
  assert.equal(
    failures(sweep(UNSUB_FAULTS), (k) => k === 'unsubscribe-undo-after-later-change'),
    '',
  );
});

test('repro #7: UNSUBSCRIBE a/# (fails later), SUBSCRIBE a/#, UNSUBSCRIBE a/#: a/# stays unsubscribed', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev', { sessionExpiryS: 3600 });
  h.subscribe(c, 'a/#', { packetId: 1 });
  const then = effectsOf(h.unsubscribe(c, ['a/#'], { packetId: 2, ack: false }), 'subs')[0]!.then!;
  h.subscribe(c, 'a/#', { packetId: 3, qos: 2 });
  h.unsubscribe(c, ['a/#'], { packetId: 4 }); // UNSUBACK 0x00: the client's latest word
  const out = h.subsRouted(then, false);
  assert.equal(h.session('dev')!.subs.has('a/#'), false, 'a/# came back although the last UNSUBSCRIBE succeeded');
  assert.deepEqual(indexChanges(out), []);
  assert.deepEqual(unsubackCodes(h, c, 4), [0]);
});
