import { hasSharedSubs, keyChange, locationOf } from './sub-changes.js';
import { GwOut, SubOp, type DisconnectReason, type SessionEndReason } from '../../../common/src/index.js';
import type { Effect } from './effects.js';
import { discardDeliveries, returnSharedDeliveries } from './outbound.js';
import { NEVER_EXPIRES, type Session } from './session.js';
import type { ShardState } from './shard-state.js';
import { emitDisconnected, emitEvent, emitSessionEnded } from './client-event.js';

/**
 * Will and session-end rules (docs/architecture.md, "Will semantics"). Runs on the shard owner only.
 */

/** Publishes the session's Will now and forgets it (fires exactly once). */
export function publishWill(st: ShardState, s: Session, now: number, out: Effect[]): void {
  const w = s.will;
  if (!w) return;
  s.will = undefined;
  if (s.willDueAt !== undefined) {
    s.willDueAt = undefined;
    out.push({ t: 'timer', key: s.key, kind: 'will', at: undefined });
  }
  out.push({ t: 'route', mountpoint: s.mountpoint, message: w.message });
  out.push({ t: 'count', what: 'will_published' });
  const m = w.message;
  emitEvent(st, s, now, out, { type: 'client.will_published', topic: m.topic, qos: m.qos, retain: m.retain, payloadBytes: m.payload.length });
}

/** Drops the Will without publishing it (clean DISCONNECT, reconnect within the delay). */
export function discardWill(s: Session, out: Effect[]): void {
  s.will = undefined;
  if (s.willDueAt !== undefined) {
    s.willDueAt = undefined;
    out.push({ t: 'timer', key: s.key, kind: 'will', at: undefined });
  }
}

/**
 * Ends a session: a pending Will is published first (the session end beats the Will Delay,
 * [MQTT-3.1.3-9] "or the Session ends, whichever happens first"), subscriptions leave the router.
 */
export function endSession(st: ShardState, s: Session, now: number, out: Effect[], why: SessionEndReason): void {
  publishWill(st, s, now, out);
  if (s.expiresAt !== undefined) {
    s.expiresAt = undefined;
    out.push({ t: 'timer', key: s.key, kind: 'expiry', at: undefined });
  }
  if (s.subs.size > 0 || s.everSubscribed) {
    out.push({
      t: 'subs',
      batch: { changes: [keyChange(SubOp.RemoveKey, s)], retainedFor: [] },
    });
    s.subs.clear();
    s.subsVersion++;
  }
  returnSharedDeliveries(s, out); // after RemoveKey: the group must not pick this session again
  discardDeliveries(s);
  st.sessions.delete(s.key);
  emitSessionEnded(st, s, now, out, why);
}

/**
 * The connection is gone (socket loss, keepalive, protocol error, DISCONNECT): schedule or
 * publish the Will, then end the session now (expiry 0) or arm its expiry timer.
 */
export function connectionClosed(st: ShardState, s: Session, now: number, out: Effect[], why: DisconnectReason, reasonCode?: number): void {
  s.conn = undefined;
  emitDisconnected(st, s, now, out, why, reasonCode);
  if (s.will) {
    const delayS = s.will.delayS;
    if (delayS === 0) publishWill(st, s, now, out);
    else {
      s.willDueAt = now + delayS * 1000;
      out.push({ t: 'timer', key: s.key, kind: 'will', at: s.willDueAt });
    }
  }
  if (s.expiryS !== 0 || (s.proto !== 5 && s.willDueAt !== undefined)) announcePresence(s, false, out);
  if (s.expiryS === 0) {
    if (s.proto !== 5 && s.willDueAt !== undefined) {
      // Non-standard 3.1.1 Will grace (session.v3WillDelayS): keep the session until the
      // grace ends so a quick reconnect can still cancel the Will; then it ends.
      s.expiresAt = s.willDueAt;
      out.push({ t: 'timer', key: s.key, kind: 'expiry', at: s.expiresAt });
      return;
    }
    endSession(st, s, now, out, 'closed');
    return;
  }
  if (s.expiryS !== NEVER_EXPIRES) {
    s.expiresAt = now + s.expiryS * 1000;
    out.push({ t: 'timer', key: s.key, kind: 'expiry', at: s.expiresAt });
  }
}

/**
 * Tells the routers whether a session with subscriptions is reachable and where: `$share`
 * groups prefer connected members [MQTT-4.8.2] (an offline member still gets messages when no
 * member is connected: they wait in its queue), and QoS 0 copies of its non-shared
 * subscriptions go straight to its connection's gateway while it has one (docs/sharding.md,
 * "QoS 0 direct"); without one they go through this owner again, which queues or drops them.
 */
export function announcePresence(s: Session, online: boolean, out: Effect[]): void {
  const shared = hasSharedSubs(s);
  if (!shared && s.subs.size === 0) return;
  out.push({
    t: 'subs',
    batch: { changes: shared ? [keyChange(online ? SubOp.Online : SubOp.Offline, s)] : [], retainedFor: [], located: [locationOf(s)] },
  });
}

/** Tells the session's live connection to close (takeover, protocol error found by the owner). */
export function closeConnection(s: Session, rc: number, out: Effect[]): void {
  const c = s.conn;
  if (!c) return;
  out.push({ t: 'gw', gateway: c.gateway, item: { kind: GwOut.Close, connId: c.connId, epoch: s.epoch, rc: s.proto === 5 ? rc : 0xff } });
}
