import { SubOp, type SubChange } from '../../../common/src/index.js';
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
 * Everything a router's index needs about one session (a new owner loading it, a router
 * resync): its subscriptions, and Offline when it holds `$share` subscriptions without a
 * connection (Online is the routers' default).
 */
export function indexStateOf(s: Session, out: SubChange[]): void {
  for (const sub of s.subs.values()) out.push(subChange(SubOp.Add, s, sub));
  if (!s.conn && s.subs.size > 0 && hasSharedSubs(s)) out.push(keyChange(SubOp.Offline, s));
}
