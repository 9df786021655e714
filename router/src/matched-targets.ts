import { type DeliveryTarget, shardOf } from '../../common/src/index.js';
import type { SubEntry } from './index/subscription-index.js';

/**
 * The copies one routed message makes, built from the subscription index's matches. Pure; a
 * fresh instance per message, used by the router's event loop.
 *
 * - Non-shared matches of one session are merged into one copy: QoS the highest granted
 *   ([MQTT-3.3.4-2] in 5.0, [MQTT-3.3.5-1] in 3.1.1), Retain As Published if any asks for it, and
 *   the Subscription Identifiers of every matching subscription that has one (5.0 only:
 *   [MQTT-3.3.4-3], and for a single copy [MQTT-3.3.4-4]).
 * - A `$share` match is a copy of its own, with only its own identifier [MQTT-3.3.4-5] (5.0
 *   section 4.8.2: a client with a shared and a non-shared subscription gets one copy by virtue
 *   of the non-shared one, and the group delivers a second copy to one of its members).
 * - No Local: a non-shared match never goes back to the publishing session [MQTT-3.8.3-3]
 *   (No Local is a Protocol Error on a shared subscription [MQTT-3.8.3-4], the gateway refuses it).
 */
export class MatchedTargets {
  /** One merged copy per session key, for its non-shared matches. */
  private readonly plain = new Map<string, DeliveryTarget>();
  /** One copy per (group, chosen member). */
  private readonly shared: DeliveryTarget[] = [];

  /** `origin`: the publishing session's key (for No Local). */
  constructor(private readonly origin: string | undefined) {}

  /** Adds one match of the index: `group` is the share name for a `$share` member. */
  add(e: SubEntry, group: string | undefined): void {
    if (group !== undefined) {
      this.shared.push(sharedCopy(e, group));
      return;
    }
    if (e.noLocal && e.key === this.origin) return;
    const prev = this.plain.get(e.key);
    if (prev === undefined) {
      this.plain.set(e.key, { key: e.key, qos: e.qos, retainAsPublished: e.retainAsPublished, subIds: e.subId ? [e.subId] : [] });
      return;
    }
    if (e.qos > prev.qos) prev.qos = e.qos;
    if (e.retainAsPublished) prev.retainAsPublished = true;
    if (e.subId && !prev.subIds.includes(e.subId)) prev.subIds.push(e.subId);
  }

  /** The merged non-shared copies, one per session, in the order their sessions were first matched. */
  plainCopies(): DeliveryTarget[] {
    return [...this.plain.values()];
  }

  /**
   * Every copy, grouped by the shard owning its session (one Deliver per shard). `direct`
   * (the router's QoS 0 direct path) is offered each non-shared copy first and returns true for
   * one it took: that copy is left out.
   */
  byShard(shards: number, direct?: (t: DeliveryTarget) => boolean): Map<number, DeliveryTarget[]> {
    const out = new Map<number, DeliveryTarget[]>();
    const put = (t: DeliveryTarget) => {
      const shard = shardOf(t.key, shards);
      const list = out.get(shard);
      if (list) list.push(t);
      else out.set(shard, [t]);
    };
    for (const t of this.plain.values()) if (direct === undefined || !direct(t)) put(t);
    for (const t of this.shared) put(t);
    return out;
  }
}

/** The copy for the member a `$share` group picked: its own identifier only [MQTT-3.3.4-5]. */
export function sharedCopy(e: SubEntry, group: string): DeliveryTarget {
  return { key: e.key, qos: e.qos, retainAsPublished: e.retainAsPublished, subIds: e.subId ? [e.subId] : [], group };
}

/**
 * The non-shared copies of one topic's matches, merged per session once (MatchedTargets) and
 * kept with the cached matches (TopicMatches.memo), with each copy's shard: routing a message
 * to a cached topic then allocates no copy. The copies are shared by every message to that
 * topic, so nobody modifies them (the rule of bus-value.ts: what was sent is read only).
 */
export interface MergedCopies {
  /** The shard count `shardOf` was computed for. */
  readonly shards: number;
  readonly targets: readonly DeliveryTarget[];
  readonly shardOf: readonly number[];
  /**
   * Sessions with a No Local subscription among the matches (undefined: none). A message one of
   * them published is merged again without its own No Local matches [MQTT-3.8.3-3].
   */
  readonly noLocal: ReadonlySet<string> | undefined;
}

export function mergeCopies(plain: readonly SubEntry[], shards: number): MergedCopies {
  const merged = new MatchedTargets(undefined);
  let noLocal: Set<string> | undefined;
  for (let i = 0; i < plain.length; i++) {
    const e = plain[i]!;
    merged.add(e, undefined);
    if (e.noLocal) (noLocal ??= new Set()).add(e.key);
  }
  const targets = merged.plainCopies();
  return { shards, targets, shardOf: targets.map((t) => shardOf(t.key, shards)), noLocal };
}
