import { deliveredQos, deliveredRetain, type DeliveryTarget, GwOut, type Message, messageExpired, type PublishItem, type SessionLocation, surelyTooLarge } from '../../common/src/index.js';

/** Why a copy the direct path took was not sent (the owner's rule, counted by the router). */
export type DirectDrop = 'expired' | 'too_large';

/**
 * What the direct path does with one matched copy: `undefined` when the copy goes through the
 * shard owner as before, a PUBLISH item for the subscriber's gateway, or the rule that drops it.
 * Only a non-shared copy whose delivered QoS is 0 [MQTT-3.8.4-8], for a session whose owner
 * announced a connection, goes direct: `$share` copies (the owner re-routes what a leaving
 * member did not complete, and group presence lives there), QoS 1/2 (packet ids, the inflight
 * window, the queue) and sessions without a connection (the owner queues or drops) stay on
 * the owner path. The rules the owner applies to such a copy are the same functions
 * (common/src/delivery-rules.ts): expiry [MQTT-3.3.2-5], the certain Maximum Packet Size case
 * [MQTT-3.1.2-25], RETAIN [MQTT-3.3.1-12/13]; No Local and merged Subscription Identifiers were
 * already applied by MatchedTargets. Pure; runs on a router.
 */
export function directCopy(t: DeliveryTarget, m: Message, at: SessionLocation | undefined, now: number): PublishItem | DirectDrop | undefined {
  if (at === undefined || t.group !== undefined || deliveredQos(t.qos, m.qos) !== 0) return undefined;
  if (messageExpired(m, now)) return 'expired';
  if (surelyTooLarge(at.maxPacketBytes, m)) return 'too_large';
  return { kind: GwOut.Publish, connId: at.connId, epoch: at.epoch, packetId: 0, qos: 0, dup: false, retain: deliveredRetain(t.retainAsPublished, m.retain), subIds: t.subIds, message: m };
}

/**
 * The connections the session owners announced (SubChangeBatch.located): session key ->
 * where it is connected now. Only connected sessions are kept; an announcement without a
 * gateway, or the session's end, removes the entry. Runs on a router's event loop.
 */
export class SessionLocations {
  private readonly at = new Map<string, SessionLocation>();

  apply(l: SessionLocation): void {
    if (l.gateway === '') this.at.delete(l.key);
    else this.at.set(l.key, l);
  }

  forget(key: string): void {
    this.at.delete(key);
  }

  get(key: string): SessionLocation | undefined {
    return this.at.get(key);
  }

  get size(): number {
    return this.at.size;
  }
}
