import { type DeliveryTarget, type Message, shardOf } from '../../common/src/index.js';
import type { SubEntry, SubscriptionIndex } from './index/subscription-index.js';
import { MatchedTargets } from './matched-targets.js';

/**
 * Matches one message and groups its copies by shard: one per session for its non-shared
 * subscriptions, one per `$share` group (see MatchedTargets), except the copies `direct` took
 * (the QoS 0 direct path). Runs on any router.
 */
export function fanOut(
  index: SubscriptionIndex,
  shards: number,
  mountpoint: string,
  m: Message,
  eligible?: (key: string) => boolean,
  direct?: (t: DeliveryTarget) => boolean,
): Map<number, DeliveryTarget[]> {
  const targets = new MatchedTargets(m.origin);
  index.match(mountpoint, m.topic, (e: SubEntry, group) => targets.add(e, group), eligible);
  return targets.byShard(shards, direct);
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
