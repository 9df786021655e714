/**
 * Retained messages per mountpoint, in memory. The router owns persistence and replication; this
 * is only the lookup structure.
 *
 * Per mountpoint: a Map from topic to its trie node (O(1) get/set/delete and exact-filter match)
 * and a trie of stored topics keyed by level, so a wildcard filter walks only the branches it can
 * match instead of scanning every stored topic. Empty trie nodes are pruned on delete.
 *
 * Who may call: the router's single event loop. Topics must be valid topic names and filters valid
 * filters (common/src/topic.ts). The `visit` callback of match must not modify the store.
 */

export interface RetainedStore<M> {
  /** Stores msg for topic; returns the previous one. */
  set(mountpoint: string, topic: string, msg: M): M | undefined;
  delete(mountpoint: string, topic: string): boolean;
  get(mountpoint: string, topic: string): M | undefined;
  /** Visits every retained message whose topic matches the filter (wildcards allowed, `$` rule applies). */
  match(mountpoint: string, filter: string, visit: (topic: string, msg: M) => void): void;
  readonly size: number;
  entries(): IterableIterator<[mountpoint: string, topic: string, msg: M]>;
}

class Node<M> {
  children: Map<string, Node<M>> | undefined;
  /** Set when a message is retained for exactly this topic. */
  topic: string | undefined;
  msg: M | undefined;
  constructor(
    readonly parent: Node<M> | undefined,
    readonly level: string,
  ) {}
}

class Mount<M> {
  readonly byTopic = new Map<string, Node<M>>();
  readonly root = new Node<M>(undefined, '');
}

class TrieRetainedStore<M> implements RetainedStore<M> {
  private readonly mounts = new Map<string, Mount<M>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  set(mountpoint: string, topic: string, msg: M): M | undefined {
    let mount = this.mounts.get(mountpoint);
    if (mount === undefined) {
      mount = new Mount<M>();
      this.mounts.set(mountpoint, mount);
    }
    const existing = mount.byTopic.get(topic);
    if (existing !== undefined) {
      const prev = existing.msg;
      existing.msg = msg;
      return prev;
    }
    let node = mount.root;
    let start = 0;
    for (;;) {
      const slash = topic.indexOf('/', start);
      const level = slash < 0 ? topic.slice(start) : topic.slice(start, slash);
      let next = node.children?.get(level);
      if (next === undefined) {
        next = new Node<M>(node, level);
        (node.children ??= new Map()).set(level, next);
      }
      node = next;
      if (slash < 0) break;
      start = slash + 1;
    }
    node.topic = topic;
    node.msg = msg;
    mount.byTopic.set(topic, node);
    this.count++;
    return undefined;
  }

  delete(mountpoint: string, topic: string): boolean {
    const mount = this.mounts.get(mountpoint);
    const node = mount?.byTopic.get(topic);
    if (mount === undefined || node === undefined) return false;
    mount.byTopic.delete(topic);
    this.count--;
    node.topic = undefined;
    node.msg = undefined;
    let cur = node;
    while (cur.parent !== undefined && cur.topic === undefined && (cur.children === undefined || cur.children.size === 0)) {
      const parent = cur.parent;
      parent.children!.delete(cur.level);
      if (parent.children!.size === 0) parent.children = undefined;
      cur = parent;
    }
    if (mount.byTopic.size === 0) this.mounts.delete(mountpoint);
    return true;
  }

  get(mountpoint: string, topic: string): M | undefined {
    return this.mounts.get(mountpoint)?.byTopic.get(topic)?.msg;
  }

  match(mountpoint: string, filter: string, visit: (topic: string, msg: M) => void): void {
    const mount = this.mounts.get(mountpoint);
    if (mount === undefined) return;
    if (!filter.includes('+') && !filter.includes('#')) {
      const node = mount.byTopic.get(filter);
      if (node !== undefined) visit(node.topic!, node.msg as M);
      return;
    }
    walkFilter(mount.root, filter.split('/'), 0, visit);
  }

  *entries(): IterableIterator<[mountpoint: string, topic: string, msg: M]> {
    for (const [mountpoint, mount] of this.mounts) {
      for (const [topic, node] of mount.byTopic) yield [mountpoint, topic, node.msg as M];
    }
  }
}

/** `node` stands for the first `depth` topic levels; the filter's remaining levels decide. */
function walkFilter<M>(node: Node<M>, levels: string[], depth: number, visit: (topic: string, msg: M) => void): void {
  if (depth === levels.length) {
    if (node.topic !== undefined) visit(node.topic, node.msg as M);
    return;
  }
  const level = levels[depth];
  const atRoot = depth === 0;
  if (level === '#') {
    // `#` matches the parent level too (`a/#` matches `a`); the root holds no message.
    if (node.topic !== undefined) visit(node.topic, node.msg as M);
    if (node.children === undefined) return;
    for (const [name, child] of node.children) {
      if (atRoot && name.charCodeAt(0) === 0x24) continue; // [MQTT-4.7.2-1]
      visitSubtree(child, visit);
    }
  } else if (level === '+') {
    if (node.children === undefined) return;
    for (const [name, child] of node.children) {
      if (atRoot && name.charCodeAt(0) === 0x24) continue; // [MQTT-4.7.2-1]
      walkFilter(child, levels, depth + 1, visit);
    }
  } else {
    const child = node.children?.get(level);
    if (child !== undefined) walkFilter(child, levels, depth + 1, visit);
  }
}

function visitSubtree<M>(node: Node<M>, visit: (topic: string, msg: M) => void): void {
  if (node.topic !== undefined) visit(node.topic, node.msg as M);
  if (node.children === undefined) return;
  for (const child of node.children.values()) visitSubtree(child, visit);
}

export function createRetainedStore<M>(): RetainedStore<M> {
  return new TrieRetainedStore<M>();
}
