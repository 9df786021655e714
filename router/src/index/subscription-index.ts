/**
 * The router's subscription index: every subscription of every mountpoint, matched once per
 * routed PUBLISH (the hot path).
 *
 * Layout per mountpoint: filters without wildcards live in a Map keyed by the whole filter (O(1)),
 * wildcard filters in a trie keyed by level with Map children plus dedicated `+` and `#` slots.
 * Each filter owns a bucket: an array of plain entries (fast iteration) with a key -> slot Map for
 * O(1) replace/remove, and lazily its `$share` groups, each a member array with a round-robin cursor.
 * A reverse index (session key -> subscriptions) makes removeKey proportional to that key's
 * subscriptions.
 *
 * What a topic matches is cached per mountpoint (TopicMatches: the entries and `$share` groups, a
 * member still picked per message), up to `maxCachedTopics` topics, and dropped whenever that
 * mountpoint's subscriptions change: the same topics are published again and again, and a cached
 * topic costs one Map lookup instead of splitting it into levels and walking the trie. Topics
 * that are rarely published again (every device its own topic, more devices than the cache
 * holds) would only cost (a lookup that misses, hashing the whole topic, and keeping its
 * matches): while fewer than half the lookups of the last CACHE_WINDOW hit, only one message in
 * CACHE_SAMPLE looks in the cache, and one miss in CACHE_SAMPLE of those is kept.
 *
 * Who may call: the router's single event loop. Filters must already be valid (validateTopicFilter);
 * shared subscriptions are added with the inner filter and the share name as `group`.
 * The `visit` callback of match must not modify the index (buckets are iterated in place); collect
 * first and change afterwards.
 */

export interface SubEntry {
  /** Session key (mountpoint\0clientId, or clientId when the mountpoint is ''); opaque here. */
  key: string;
  qos: 0 | 1 | 2;
  noLocal: boolean;
  retainAsPublished: boolean;
  subId?: number;
}

/** An array with a key -> position map, removing by swapping in the last element. */
class EntryList {
  readonly items: SubEntry[] = [];
  private readonly pos = new Map<string, number>();

  /** Returns true when the key was new. */
  put(entry: SubEntry): boolean {
    const at = this.pos.get(entry.key);
    if (at !== undefined) {
      this.items[at] = entry;
      return false;
    }
    this.pos.set(entry.key, this.items.length);
    this.items.push(entry);
    return true;
  }

  get(key: string): SubEntry | undefined {
    const at = this.pos.get(key);
    return at === undefined ? undefined : this.items[at];
  }

  delete(key: string): boolean {
    const at = this.pos.get(key);
    if (at === undefined) return false;
    this.pos.delete(key);
    const last = this.items.pop()!;
    if (at < this.items.length) {
      this.items[at] = last;
      this.pos.set(last.key, at);
    }
    return true;
  }
}

export class SharedGroup {
  readonly members = new EntryList();
  /** Next member to try; taken modulo the member count since removals shrink the list. */
  cursor = 0;
  constructor(readonly name: string) {}

  /**
   * Picks one member round robin [MQTT-4.8.2], skipping members `eligible` rejects. When no
   * member is eligible (e.g. all offline) the round-robin member is chosen anyway, so the message
   * is queued for a session rather than silently dropped.
   */
  pick(eligible: ((key: string) => boolean) | undefined): SubEntry {
    const items = this.members.items;
    const n = items.length;
    const start = this.cursor % n;
    if (eligible !== undefined) {
      for (let k = 0; k < n; k++) {
        let i = start + k;
        if (i >= n) i -= n;
        if (eligible(items[i].key)) {
          this.cursor = i + 1;
          return items[i];
        }
      }
    }
    this.cursor = start + 1;
    return items[start];
  }
}

/** All subscriptions to one (mountpoint, filter). */
class Bucket {
  readonly plain = new EntryList();
  /** Share name -> group, for add/remove; created on the first shared subscription. */
  groups: Map<string, SharedGroup> | undefined;
  /** The same groups as an array, so match iterates without allocating a Map iterator. */
  readonly groupList: SharedGroup[] = [];
  /** `node` is the trie node holding this bucket (undefined for exact filters). */
  constructor(
    readonly mount: MountIndex<unknown>,
    readonly filter: string,
    readonly node: TrieNode | undefined,
    readonly isHash: boolean,
  ) {}

  isEmpty(): boolean {
    return this.plain.items.length === 0 && (this.groups === undefined || this.groups.size === 0);
  }
}

/** What a walk of the index hands every bucket matching the topic to. */
interface BucketSink {
  bucket(b: Bucket): void;
}

/** Visits each matching bucket's entries at once, one member per group (match without the cache). */
class VisitingSink implements BucketSink {
  constructor(
    private readonly visit: Visit,
    private readonly eligible: Eligible,
  ) {}

  bucket(b: Bucket): void {
    const items = b.plain.items;
    for (let i = 0; i < items.length; i++) this.visit(items[i], undefined);
    const groups = b.groupList;
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      this.visit(g.pick(this.eligible), g.name);
    }
  }
}

/** Collects the matching entries and groups, for the cache. */
class CollectingSink implements BucketSink {
  readonly plain: SubEntry[] = [];
  readonly groups: SharedGroup[] = [];

  bucket(b: Bucket): void {
    const items = b.plain.items;
    for (let i = 0; i < items.length; i++) this.plain.push(items[i]);
    const groups = b.groupList;
    for (let i = 0; i < groups.length; i++) this.groups.push(groups[i]);
  }
}

class TrieNode {
  children: Map<string, TrieNode> | undefined;
  plus: TrieNode | undefined;
  /** Subscriptions to `<path>/#` (or `#` at the root). */
  hash: Bucket | undefined;
  /** Wildcard subscriptions whose filter ends exactly at this node. */
  bucket: Bucket | undefined;
  constructor(
    readonly parent: TrieNode | undefined,
    readonly level: string,
    readonly isPlus: boolean,
  ) {}

  isEmpty(): boolean {
    return this.bucket === undefined && this.hash === undefined && this.plus === undefined && (this.children === undefined || this.children.size === 0);
  }
}

/**
 * Everything one topic matches in one mountpoint: its non-shared entries (a session with
 * overlapping filters once per matching entry) and its `$share` groups. Read only; valid until
 * the mountpoint's subscriptions change (the index then stops handing it out). `memo` is for
 * what a caller derives from these matches once (the router's merged copies, fan-out.ts); it
 * goes with them.
 */
export class TopicMatches<M> {
  memo: M | undefined = undefined;
  constructor(
    readonly plain: readonly SubEntry[],
    readonly groups: readonly SharedGroup[],
  ) {}

  /** Visits every non-shared entry, then one member of each group (SharedGroup.pick). */
  visit(visit: Visit, eligible: Eligible): void {
    const plain = this.plain;
    for (let i = 0; i < plain.length; i++) visit(plain[i], undefined);
    const groups = this.groups;
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      visit(g.pick(eligible), g.name);
    }
  }
}

class MountIndex<M> {
  readonly exact = new Map<string, Bucket>();
  readonly root = new TrieNode(undefined, '', false);
  /** Topic -> what it matches (see TopicMatches); cleared on every change of this mountpoint. */
  readonly cache = new Map<string, TopicMatches<M>>();
  constructor(readonly mountpoint: string) {}

  isEmpty(): boolean {
    return this.exact.size === 0 && this.root.isEmpty();
  }
}

/** Where one subscription lives, for the reverse index. */
interface SubRef {
  bucket: Bucket;
  group: string | undefined;
}

function refId(mountpoint: string, filter: string, group: string | undefined): string {
  // NUL cannot occur in a mountpoint, share name or filter, so this is unambiguous; the leading
  // marker tells "no group" from any group.
  return group === undefined ? `${mountpoint}\u0000-\u0000${filter}` : `${mountpoint}\u0000+${group}\u0000${filter}`;
}

type Visit = (e: SubEntry, group: string | undefined) => void;
type Eligible = ((key: string) => boolean) | undefined;

/** Lookups per judgement of the cache's hit rate (see the header). */
const CACHE_WINDOW = 1024;
/** While the hit rate is low, one message in this many looks in the cache. */
const CACHE_SAMPLE = 16;

export class SubscriptionIndex<M = unknown> {
  private readonly mounts = new Map<string, MountIndex<M>>();
  private readonly byKey = new Map<string, Map<string, SubRef>>();
  private count = 0;
  /** Reused level buffer for a walk; a re-entrant match (from inside visit) gets its own. */
  private readonly scratch: string[] = [];
  private walking = false;
  /** Cache lookups and misses in the current window, and whether most lookups hit (see the header). */
  private lookups = 0;
  private misses = 0;
  private warm = true;
  /** Messages that did not look while the cache was cold. */
  private passedBy = 0;

  /**
   * `maxCachedTopics`: topics whose matches are kept per mountpoint (0: none); a full cache
   * starts over, and `onCacheFull` is told.
   */
  constructor(
    private readonly maxCachedTopics = 4096,
    private readonly onCacheFull: () => void = () => {},
  ) {}

  get size(): number {
    return this.count;
  }

  /** Adds or replaces the (mountpoint, filter, key, group) entry. Returns true when it was new. */
  add(mountpoint: string, filter: string, entry: SubEntry, group?: string): boolean {
    let mount = this.mounts.get(mountpoint);
    if (mount === undefined) {
      mount = new MountIndex(mountpoint);
      this.mounts.set(mountpoint, mount);
    }
    // Even a replaced entry (another QoS or identifier) changes what a cached topic holds.
    mount.cache.clear();
    const bucket = this.bucketFor(mount, filter, true)!;
    let added: boolean;
    if (group === undefined) {
      added = bucket.plain.put(entry);
    } else {
      bucket.groups ??= new Map();
      let g = bucket.groups.get(group);
      if (g === undefined) {
        g = new SharedGroup(group);
        bucket.groups.set(group, g);
        bucket.groupList.push(g);
      }
      added = g.members.put(entry);
    }
    if (added) {
      this.count++;
      let refs = this.byKey.get(entry.key);
      if (refs === undefined) {
        refs = new Map();
        this.byKey.set(entry.key, refs);
      }
      refs.set(refId(mountpoint, filter, group), { bucket, group });
    }
    return added;
  }

  /** Removes one subscription. Returns true when it existed. */
  remove(mountpoint: string, filter: string, key: string, group?: string): boolean {
    const mount = this.mounts.get(mountpoint);
    if (mount === undefined) return false;
    const bucket = this.bucketFor(mount, filter, false);
    if (bucket === undefined || !this.removeFromBucket(bucket, key, group)) return false;
    const refs = this.byKey.get(key);
    if (refs !== undefined) {
      refs.delete(refId(mountpoint, filter, group));
      if (refs.size === 0) this.byKey.delete(key);
    }
    return true;
  }

  /** Removes every subscription of a session key (session ended); returns how many. */
  removeKey(key: string): number {
    const refs = this.byKey.get(key);
    if (refs === undefined) return 0;
    this.byKey.delete(key);
    let n = 0;
    for (const ref of refs.values()) if (this.removeFromBucket(ref.bucket, key, ref.group)) n++;
    return n;
  }

  /**
   * Visits every subscription matching a published topic in one mountpoint. Every non-shared
   * entry is visited (a session with overlapping filters is visited once per matching entry; the
   * caller merges them if it wants one delivery). For each shared group (group, filter) exactly one
   * member is visited, chosen round robin, skipping members `eligible` rejects unless none is
   * eligible [MQTT-4.8.2]. Wildcards at the first level skip `$` topics [MQTT-4.7.2-1].
   * `topic` must be a valid topic name. `visit` must not modify the index.
   */
  match(mountpoint: string, topic: string, visit: Visit, eligible?: (key: string) => boolean): void {
    const cached = this.cachedMatches(mountpoint, topic);
    if (cached !== undefined) cached.visit(visit, eligible);
    else this.matchUncached(mountpoint, topic, visit, eligible);
  }

  /**
   * What `topic` matches in `mountpoint` (see match for the rules) when the cache holds it or
   * takes it now; undefined when it does not (then matchUncached visits the same matches). The
   * result is read only, and is handed out until the mountpoint's subscriptions change.
   */
  cachedMatches(mountpoint: string, topic: string): TopicMatches<M> | undefined {
    const mount = this.mounts.get(mountpoint);
    if (mount === undefined || this.maxCachedTopics === 0) return undefined;
    // Cold (most lookups missed): one message in CACHE_SAMPLE looks, and one miss in CACHE_SAMPLE
    // is kept, so topics that never come back cost next to nothing and a set of hot topics still
    // gets in.
    if (!this.warm && ++this.passedBy % CACHE_SAMPLE !== 0) return undefined;
    if (++this.lookups === CACHE_WINDOW) {
      this.warm = this.misses * 2 <= CACHE_WINDOW;
      this.lookups = 0;
      this.misses = 0;
    }
    const cached = mount.cache.get(topic);
    if (cached !== undefined) return cached;
    if (++this.misses % CACHE_SAMPLE !== 0 && !this.warm) return undefined;
    // Only what is kept is allocated here: objects made per message elsewhere stay short-lived
    // (V8 moves allocation sites whose objects survive into the old generation up front).
    const sink = new CollectingSink();
    this.walk(mount, topic, sink);
    const found = new TopicMatches<M>(sink.plain, sink.groups);
    if (mount.cache.size >= this.maxCachedTopics) {
      mount.cache.clear();
      this.onCacheFull();
    }
    mount.cache.set(topic, found);
    return found;
  }

  /** match without the cache. */
  matchUncached(mountpoint: string, topic: string, visit: Visit, eligible?: (key: string) => boolean): void {
    const mount = this.mounts.get(mountpoint);
    if (mount !== undefined) this.walk(mount, topic, new VisitingSink(visit, eligible));
  }

  /** Hands every bucket of `mount` matching `topic` to `sink`: the exact filter, then the trie. */
  private walk(mount: MountIndex<M>, topic: string, sink: BucketSink): void {
    const exact = mount.exact.get(topic);
    if (exact !== undefined) sink.bucket(exact);
    const root = mount.root;
    if (root.isEmpty()) return;
    const reentrant = this.walking;
    const levels = reentrant ? [] : this.scratch;
    const n = splitLevels(topic, levels);
    this.walking = true;
    try {
      if (topic.charCodeAt(0) === 0x24 /* $ */) {
        // [MQTT-4.7.2-1]: skip the root's `+` and `#`; only literal first levels may match.
        const child = root.children?.get(levels[0]);
        if (child !== undefined) walk(child, levels, n, 1, sink);
      } else {
        walk(root, levels, n, 0, sink);
      }
    } finally {
      this.walking = reentrant;
      // Drop references to topic substrings so the scratch buffer does not pin them (keeping its
      // capacity: shrinking would reallocate on the next publish).
      if (!reentrant) for (let i = 0; i < n; i++) levels[i] = '';
    }
  }

  /** Every subscription of a session key (for resync and debugging). */
  subscriptionsOf(key: string): Array<{ mountpoint: string; filter: string; group?: string; entry: SubEntry }> {
    const out: Array<{ mountpoint: string; filter: string; group?: string; entry: SubEntry }> = [];
    const refs = this.byKey.get(key);
    if (refs === undefined) return out;
    for (const { bucket, group } of refs.values()) {
      const entry = group === undefined ? bucket.plain.get(key) : bucket.groups?.get(group)?.members.get(key);
      if (entry === undefined) continue;
      const item: { mountpoint: string; filter: string; group?: string; entry: SubEntry } = { mountpoint: bucket.mount.mountpoint, filter: bucket.filter, entry };
      if (group !== undefined) item.group = group;
      out.push(item);
    }
    return out;
  }

  /** Finds (or with create, makes) the bucket of a filter. */
  private bucketFor(mount: MountIndex<M>, filter: string, create: boolean): Bucket | undefined {
    if (!filter.includes('+') && !filter.includes('#')) {
      let b = mount.exact.get(filter);
      if (b === undefined && create) {
        b = new Bucket(mount, filter, undefined, false);
        mount.exact.set(filter, b);
      }
      return b;
    }
    const parts = filter.split('/');
    const last = parts.length - 1;
    const isHash = parts[last] === '#';
    const depth = isHash ? last : parts.length;
    let node = mount.root;
    for (let i = 0; i < depth; i++) {
      const level = parts[i];
      let next: TrieNode | undefined;
      if (level === '+') {
        next = node.plus;
        if (next === undefined) {
          if (!create) return undefined;
          next = node.plus = new TrieNode(node, level, true);
        }
      } else {
        next = node.children?.get(level);
        if (next === undefined) {
          if (!create) return undefined;
          next = new TrieNode(node, level, false);
          (node.children ??= new Map()).set(level, next);
        }
      }
      node = next;
    }
    let b = isHash ? node.hash : node.bucket;
    if (b === undefined && create) {
      b = new Bucket(mount, filter, node, isHash);
      if (isHash) node.hash = b;
      else node.bucket = b;
    }
    return b;
  }

  /** Removes one entry from a bucket and prunes whatever became empty; keeps count in step. */
  private removeFromBucket(bucket: Bucket, key: string, group: string | undefined): boolean {
    if (group === undefined) {
      if (!bucket.plain.delete(key)) return false;
    } else {
      const g = bucket.groups?.get(group);
      if (g === undefined || !g.members.delete(key)) return false;
      if (g.members.items.length === 0) {
        bucket.groups!.delete(group);
        const list = bucket.groupList;
        const at = list.indexOf(g);
        list[at] = list[list.length - 1];
        list.pop();
      }
      if (bucket.groups!.size === 0) bucket.groups = undefined;
    }
    this.count--;
    bucket.mount.cache.clear();
    if (bucket.isEmpty()) this.dropBucket(bucket);
    return true;
  }

  private dropBucket(bucket: Bucket): void {
    const mount = bucket.mount;
    const node = bucket.node;
    if (node === undefined) {
      mount.exact.delete(bucket.filter);
    } else {
      if (bucket.isHash) node.hash = undefined;
      else node.bucket = undefined;
      // Prune empty nodes up to (not including) the root.
      let cur: TrieNode = node;
      while (cur.parent !== undefined && cur.isEmpty()) {
        const parent: TrieNode = cur.parent;
        if (cur.isPlus) parent.plus = undefined;
        else {
          parent.children!.delete(cur.level);
          if (parent.children!.size === 0) parent.children = undefined;
        }
        cur = parent;
      }
    }
    if (mount.isEmpty() && this.mounts.get(mount.mountpoint) === mount) this.mounts.delete(mount.mountpoint);
  }
}

/** Splits a topic into `out` (reused), returning the level count. One substring per level. */
function splitLevels(topic: string, out: string[]): number {
  let n = 0;
  let start = 0;
  for (;;) {
    const slash = topic.indexOf('/', start);
    if (slash < 0) {
      out[n++] = topic.slice(start);
      return n;
    }
    out[n++] = topic.slice(start, slash);
    start = slash + 1;
  }
}

/** Depth-first trie walk: `node` stands for the first `depth` levels of the topic. */
function walk(node: TrieNode, levels: string[], n: number, depth: number, sink: BucketSink): void {
  // `<prefix>/#` matches every topic with at least `depth` levels, including the parent level itself.
  if (node.hash !== undefined) sink.bucket(node.hash);
  if (depth === n) {
    if (node.bucket !== undefined) sink.bucket(node.bucket);
    return;
  }
  if (node.children !== undefined) {
    const child = node.children.get(levels[depth]);
    if (child !== undefined) walk(child, levels, n, depth + 1, sink);
  }
  if (node.plus !== undefined) walk(node.plus, levels, n, depth + 1, sink);
}
