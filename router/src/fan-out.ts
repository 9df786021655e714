import { type DeliveryTarget, type Message, shardOf } from '../../common/src/index.js';
import type { SubEntry, SubscriptionIndex } from './index/subscription-index.js';
import { MatchedTargets, mergeCopies, type MergedCopies, sharedCopy } from './matched-targets.js';

/** What a message with no copies returns (read only, like every result of fanOut). */
const NO_COPIES: ReadonlyMap<number, DeliveryTarget[]> = new Map();

/**
 * Matches one message and groups its copies by shard: one per session for its non-shared
 * subscriptions, one per `$share` group (see MatchedTargets), except the copies `direct` took
 * (the QoS 0 direct path). The non-shared copies of a topic are merged once and cached with its
 * matches (mergeCopies); a message whose publisher has a No Local match, or to a topic the index
 * did not cache, is merged for itself.
 * Runs on any router.
 */
export function fanOut(
  index: SubscriptionIndex<MergedCopies>,
  shards: number,
  mountpoint: string,
  m: Message,
  eligible?: (key: string) => boolean,
  direct?: (t: DeliveryTarget, m: Message) => boolean,
): ReadonlyMap<number, DeliveryTarget[]> {
  const matches = index.cachedMatches(mountpoint, m.topic);
  let merged: MergedCopies | undefined;
  if (matches !== undefined) {
    merged = matches.memo;
    if (merged === undefined || merged.shards !== shards) merged = matches.memo = mergeCopies(matches.plain, shards);
  }
  if (matches === undefined || merged === undefined || merged.noLocal?.has(m.origin) === true) {
    const targets = new MatchedTargets(m.origin);
    const visit = (e: SubEntry, group: string | undefined) => targets.add(e, group);
    if (matches === undefined) index.matchUncached(mountpoint, m.topic, visit, eligible);
    else matches.visit(visit, eligible);
    return targets.byShard(shards, direct === undefined ? undefined : (t) => direct(t, m));
  }
  let out: Map<number, DeliveryTarget[]> | undefined;
  const copies = merged.targets;
  for (let i = 0; i < copies.length; i++) {
    const t = copies[i]!;
    if (direct === undefined || !direct(t, m)) out = addCopy(out, merged.shardOf[i]!, t);
  }
  const groups = matches.groups;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    const e = g.pick(eligible);
    out = addCopy(out, shardOf(e.key, shards), sharedCopy(e, g.name));
  }
  return out ?? NO_COPIES;
}

function addCopy(out: Map<number, DeliveryTarget[]> | undefined, shard: number, t: DeliveryTarget): Map<number, DeliveryTarget[]> {
  if (out === undefined) return new Map([[shard, [t]]]);
  const list = out.get(shard);
  if (list === undefined) out.set(shard, [t]);
  else list.push(t);
  return out;
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
