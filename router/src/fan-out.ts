import type { DeliveryTarget } from '../../common/src/envelope/session-in.js';
import type { Message } from '../../common/src/envelope/message.js';
import { shardOf } from '../../common/src/shard.js';
import type { SubEntry, SubscriptionIndex } from './index/subscription-index.js';

/**
 * Matches one message and groups the receiving sessions by shard. A session with several
 * matching subscriptions gets one copy at the highest QoS with every Subscription Identifier
 * ([MQTT-3.3.4-2]/[MQTT-3.3.4-3] allow one copy; its QoS is the maximum granted).
 * No Local: never back to the publishing session [MQTT-3.8.3-3]. Runs on any router.
 */
export function fanOut(index: SubscriptionIndex, shards: number, mountpoint: string, m: Message, eligible?: (key: string) => boolean): Map<number, DeliveryTarget[]> {
  const byKey = new Map<string, DeliveryTarget>();
  index.match(mountpoint, m.topic, (e: SubEntry, group) => {
    if (e.noLocal && group === undefined && e.key === m.origin) return;
    const prev = byKey.get(e.key);
    if (!prev) {
      const t: DeliveryTarget = { key: e.key, qos: e.qos, retainAsPublished: e.retainAsPublished, subIds: e.subId ? [e.subId] : [] };
      if (group !== undefined) t.group = group;
      byKey.set(e.key, t);
      return;
    }
    if (group === undefined) prev.group = undefined; // also a plain subscriber: its copy is its own
    if (e.qos > prev.qos) prev.qos = e.qos;
    if (e.retainAsPublished) prev.retainAsPublished = true;
    if (e.subId && !prev.subIds.includes(e.subId)) prev.subIds.push(e.subId);
  }, eligible);
  const byShard = new Map<number, DeliveryTarget[]>();
  for (const t of byKey.values()) {
    const shard = shardOf(t.key, shards);
    const list = byShard.get(shard);
    if (list) list.push(t);
    else byShard.set(shard, [t]);
  }
  return byShard;
}

/**
 * A message a `$share` member took but did not complete before its session ended goes to one
 * other member of that group (only), preferring connected ones. Runs on any router.
 */
export function fanOutToGroup(
  index: SubscriptionIndex,
  shards: number,
  mountpoint: string,
  m: Message,
  group: string,
  exclude: string,
  online: (key: string) => boolean,
): Map<number, DeliveryTarget[]> {
  const byShard = new Map<number, DeliveryTarget[]>();
  let chosen: DeliveryTarget | undefined;
  const visit = (e: SubEntry, g: string | undefined) => {
    if (chosen || g !== group || e.key === exclude) return;
    chosen = { key: e.key, qos: e.qos, retainAsPublished: false, subIds: e.subId ? [e.subId] : [], group };
  };
  index.match(mountpoint, m.topic, visit, (k) => k !== exclude && online(k));
  // Nobody connected: any other member takes it into its queue rather than the message being lost.
  if (!chosen) index.match(mountpoint, m.topic, visit, (k) => k !== exclude);
  if (chosen) byShard.set(shardOf(chosen.key, shards), [chosen]);
  return byShard;
}
