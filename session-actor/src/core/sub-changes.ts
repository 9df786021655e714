import { SubOp, type SessionLocation, type SubChange } from '../../../common/src/index.js';
import type { Session, SessionSub } from './session.js';

/**
 * The subscription-index changes a session sends to the routers, built in one place.
 * Runs on the shard owner only.
 */

/** Whether the session holds `$share` subscriptions (the routers then track its presence). */
export function hasSharedSubs(s: Session): boolean {
  for (const sub of s.subs.values()) if (sub.group !== undefined) return true;
  return false;
}

/** Add or Remove of one subscription, carrying its fields (routers use them only for Add). */
export function subChange(op: SubOp.Add | SubOp.Remove, s: Session, sub: SessionSub): SubChange {
  return { op, key: s.key, mountpoint: s.mountpoint, filter: sub.filter, group: sub.group, qos: sub.qos, noLocal: sub.noLocal, retainAsPublished: sub.retainAsPublished, subId: sub.subId };
}

/** The Remove an UNSUBSCRIBE sends: only the subscription's identity (key, filter, group). */
export function removalOf(s: Session, sub: SessionSub): SubChange {
  return { op: SubOp.Remove, key: s.key, mountpoint: s.mountpoint, filter: sub.filter, group: sub.group, qos: 0, noLocal: false, retainAsPublished: false, subId: 0 };
}

/** A change about the whole session: RemoveKey (it ended), Online / Offline (presence for `$share`). */
export function keyChange(op: SubOp.RemoveKey | SubOp.Online | SubOp.Offline, s: Session): SubChange {
  return { op, key: s.key, mountpoint: s.mountpoint, filter: '', qos: 0, noLocal: false, retainAsPublished: false, subId: 0 };
}

/**
 * Where the session is connected, for the routers' QoS 0 direct path (docs/sharding.md,
 * "QoS 0 direct"): its gateway, connection and epoch, and the client's Maximum Packet Size; an
 * empty gateway when it has no connection. Sent whenever that changes for a session with
 * subscriptions, and with its first SUBSCRIBE on a connection.
 */
export function locationOf(s: Session): SessionLocation {
  const c = s.conn;
  if (!c) return { key: s.key, gateway: '', connId: 0, epoch: 0, maxPacketBytes: 0 };
  return { key: s.key, gateway: c.gateway, connId: c.connId, epoch: s.epoch, maxPacketBytes: s.maxPacketBytes };
}

/**
 * Everything a router's index needs about one session (a new owner loading it, a router
 * resync): its subscriptions, Offline when it holds `$share` subscriptions without a
 * connection (Online is the routers' default), and its connection when it has one (a router
 * without it sends the session's copies through the owner).
 */
export function indexStateOf(s: Session, out: SubChange[], located: SessionLocation[]): void {
  for (const sub of s.subs.values()) out.push(subChange(SubOp.Add, s, sub));
  if (!s.conn && s.subs.size > 0 && hasSharedSubs(s)) out.push(keyChange(SubOp.Offline, s));
  if (s.conn && s.subs.size > 0) located.push(locationOf(s));
}
