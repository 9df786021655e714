import { parseSharedFilter, SubOp, type SubChange, type SubChangeBatch, type Message, type SubscribeEnv, ControlType } from '../../../common/src/index.js';
import type { Continuation, Effect, RetainedWant } from './effects.js';
import { setSub, type SessionSub } from './session.js';
import { locationOf, subChange } from './sub-changes.js';
import { deliver, emitControl } from './outbound.js';
import { touchFilter, type ShardState } from './shard-state.js';
import { emitEvent } from './client-event.js';

const RC_QUOTA_EXCEEDED = 0x97;
const RC_UNSPECIFIED = 0x80;

/**
 * SUBSCRIBE: remember the subscriptions, tell the routers, and ask them for the retained
 * messages owed; SUBACK and retained deliveries follow in onSubscribeRouted.
 * Runs on the shard owner only.
 */
export function handleSubscribe(st: ShardState, e: SubscribeEnv, now: number, out: Effect[]): void {
  const s = st.sessions.get(e.key);
  if (!s || s.epoch !== e.epoch || !s.conn) return; // stale: that connection is gone
  const codes: number[] = [];
  const changes: SubChange[] = [];
  const batch: SubChangeBatch = { changes, retainedFor: [] };
  const retained: RetainedWant[] = [];
  const added: Array<[string, SessionSub | undefined, SessionSub]> = [];
  const touched: Array<[number | undefined, number]> = [];
  for (const r of e.subs) {
    if (r.rc !== 0xff) {
      codes.push(r.rc);
      continue;
    }
    const previous = s.subs.get(r.filter);
    const existed = previous !== undefined;
    if (!existed && s.subs.size >= st.limits.maxSubscriptionsPerClient) {
      out.push({ t: 'count', what: 'subscription_quota' });
      codes.push(RC_QUOTA_EXCEEDED);
      continue;
    }
    const shared = parseSharedFilter(r.filter);
    if (shared === 'invalid') {
      codes.push(RC_UNSPECIFIED);
      continue;
    }
    const filter = shared ? shared.filter : r.filter;
    const group = shared ? shared.group : undefined;
    // [MQTT-3.8.4-3] a repeated filter replaces the existing subscription.
    const mine: SessionSub = { filter, group, qos: r.qos, noLocal: r.noLocal, retainAsPublished: r.retainAsPublished, retainHandling: r.retainHandling, subId: e.subscriptionId };
    setSub(s, r.filter, mine);
    touched.push([s.subTouch?.get(r.filter), touchFilter(st, s, r.filter)]);
    added.push([r.filter, previous, mine]);
    changes.push(subChange(SubOp.Add, s, mine));
    codes.push(r.qos);
    // Retained messages: Retain Handling 0 always, 1 only for a new subscription, 2 never
    // [MQTT-3.3.1-9..11]; never to a shared subscription [MQTT-4.8.2-?: v5 3.8.4 "not sent"].
    if (!group && (r.retainHandling === 0 || (r.retainHandling === 1 && !existed))) {
      batch.retainedFor.push({ mountpoint: s.mountpoint, filter });
      retained.push({ qos: r.qos, subId: e.subscriptionId });
    }
  }
  const then: Continuation = { kind: 'suback', key: s.key, incarnation: s.incarnation, epoch: e.epoch, packetId: e.packetId, codes, retained, added, touched };
  if (changes.length === 0) {
    onSubscribeRouted(st, then, true, [], now, out);
    return;
  }
  s.everSubscribed = true;
  // The first SUBSCRIBE of a new session is where the routers learn its connection (a present
  // session announced it at CONNECT); repeating it costs a few bytes per SUBSCRIBE.
  if (s.conn) batch.located = [locationOf(s)];
  out.push({ t: 'subs', batch, then });
}

/**
 * The routers took the subscriptions (ok) or could not be reached: send SUBACK, then the
 * retained messages with RETAIN set [MQTT-3.3.1-8]. Runs on the shard owner only.
 */
export function onSubscribeRouted(st: ShardState, c: Extract<Continuation, { kind: 'suback' }>, ok: boolean, retained: Array<{ index: number; message: Message }>, now: number, out: Effect[]): void {
  const s = st.sessions.get(c.key);
  if (!s || s.incarnation !== c.incarnation) return;
  if (!ok) {
    // The routers may or may not have applied it: undo in the session (unless a later
    // SUBSCRIBE/UNSUBSCRIBE changed that filter since) and tell the routers the undone state
    // again, so the session stays the source of truth and the index converges to it.
    // Backwards: a filter named twice in one SUBSCRIBE returns to its state before the request,
    // and the routers are told that final state once per filter.
    const fix = new Map<string, SubChange>();
    for (let i = c.added.length - 1; i >= 0; i--) {
      const [filter, previous, mine] = c.added[i]!;
      // A change undone by its own failure does not count as a later change: an earlier
      // UNSUBSCRIBE of the filter whose answer fails after this may still repair it.
      const [tokenBefore, token] = c.touched[i]!;
      if (s.subTouch?.get(filter) === token) {
        if (tokenBefore === undefined) s.subTouch.delete(filter);
        else s.subTouch.set(filter, tokenBefore);
      }
      if (s.subs.get(filter) !== mine) continue;
      if (previous) {
        setSub(s, filter, previous);
        fix.set(filter, subChange(SubOp.Add, s, previous));
      } else {
        setSub(s, filter, undefined);
        fix.set(filter, subChange(SubOp.Remove, s, mine));
      }
    }
    if (fix.size > 0) out.push({ t: 'subs', batch: { changes: [...fix.values()], retainedFor: [] } });
  } else if (c.added.length > 0 && st.limits.emitEvents) {
    // The session holds them now, connected or not: the fact is the subscription.
    emitEvent(st, s, now, out, { type: 'client.subscribed', subscriptions: c.added.map(([filter, , mine]) => ({ filter, qos: mine.qos })) });
  }
  if (s.epoch !== c.epoch || !s.conn) return;
  const codes = ok ? c.codes : c.codes.map((code) => (code <= 2 ? RC_UNSPECIFIED : code));
  emitControl(s, ControlType.SubAck, c.packetId, codes, out);
  if (!ok) return;
  for (const r of retained) {
    const want = c.retained[r.index];
    if (!want) continue;
    const qos = Math.min(r.message.qos, want.qos) as 0 | 1 | 2;
    deliver(st, s, r.message, qos, true, want.subId ? [want.subId] : [], now, out);
  }
}
