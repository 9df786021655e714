import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubscriptionIndex, type SubEntry } from '../../router/src/index/subscription-index.js';
import { topicMatchesFilter } from '../../common/src/topic.js';

function entry(key: string, qos: 0 | 1 | 2 = 0, subId?: number): SubEntry {
  const e: SubEntry = { key, qos, noLocal: false, retainAsPublished: false };
  if (subId !== undefined) e.subId = subId;
  return e;
}

/** Keys visited for one publish, sorted, with `@group` appended for shared picks. */
function matchKeys(index: SubscriptionIndex, mountpoint: string, topic: string, eligible?: (key: string) => boolean): string[] {
  const out: string[] = [];
  index.match(mountpoint, topic, (e, group) => out.push(group === undefined ? e.key : `${e.key}@${group}`), eligible);
  return out.sort();
}

/** True when the index holds no mountpoint structures at all (everything pruned). */
function isPruned(index: SubscriptionIndex): boolean {
  return (index as unknown as { mounts: Map<string, unknown>; byKey: Map<string, unknown> }).mounts.size === 0 && (index as unknown as { byKey: Map<string, unknown> }).byKey.size === 0;
}

test('exact and wildcard filters match a topic', () => {
  const ix = new SubscriptionIndex();
  ix.add('', 'a/b', entry('k1'));
  ix.add('', 'a/+', entry('k2'));
  ix.add('', 'a/#', entry('k3'));
  ix.add('', '#', entry('k4'));
  ix.add('', '+/b', entry('k5'));
  ix.add('', 'a/c', entry('k6'));
  ix.add('', 'a/b/c', entry('k7'));
  assert.deepEqual(matchKeys(ix, '', 'a/b'), ['k1', 'k2', 'k3', 'k4', 'k5']);
  assert.deepEqual(matchKeys(ix, '', 'x'), ['k4']);
  assert.deepEqual(matchKeys(ix, '', 'a/b/c'), ['k3', 'k4', 'k7']);
  assert.equal(ix.size, 7);
});

test('# matches the parent level; + matches an empty level', () => {
  const ix = new SubscriptionIndex();
  ix.add('', 'sport/#', entry('hash'));
  ix.add('', 'sport/+', entry('plus'));
  ix.add('', 'a/+/c', entry('mid'));
  ix.add('', '+/+', entry('two'));
  assert.deepEqual(matchKeys(ix, '', 'sport'), ['hash']);
  assert.deepEqual(matchKeys(ix, '', 'sport/'), ['hash', 'plus', 'two']);
  assert.deepEqual(matchKeys(ix, '', 'a//c'), ['mid']);
  assert.deepEqual(matchKeys(ix, '', '/'), ['two']);
  assert.deepEqual(matchKeys(ix, '', 'sports'), []);
});

test('wildcards at the first level never match $ topics [MQTT-4.7.2-1]', () => {
  const ix = new SubscriptionIndex();
  ix.add('', '#', entry('all'));
  ix.add('', '+/broker/load', entry('plus'));
  ix.add('', '+', entry('one'));
  ix.add('', '$SYS/#', entry('sys'));
  ix.add('', '$SYS/+/load', entry('sysplus'));
  ix.add('', '$SYS/broker/load', entry('exact'));
  assert.deepEqual(matchKeys(ix, '', '$SYS/broker/load'), ['exact', 'sys', 'sysplus']);
  assert.deepEqual(matchKeys(ix, '', '$SYS'), ['sys']);
  assert.deepEqual(matchKeys(ix, '', 'x/broker/load'), ['all', 'plus']);
  ix.add('', 'a/+', entry('inner'));
  assert.deepEqual(matchKeys(ix, '', 'a/$x'), ['all', 'inner']);
});

test('add replaces an existing (filter, key) entry and reports whether it was new', () => {
  const ix = new SubscriptionIndex();
  assert.equal(ix.add('', 'a/+', entry('k', 0)), true);
  assert.equal(ix.add('', 'a/+', entry('k', 2, 7)), false);
  assert.equal(ix.size, 1);
  const seen: SubEntry[] = [];
  ix.match('', 'a/b', (e) => seen.push(e));
  assert.equal(seen.length, 1);
  assert.equal(seen[0].qos, 2);
  assert.equal(seen[0].subId, 7);
  // Same key and filter, but shared: a separate subscription.
  assert.equal(ix.add('', 'a/+', entry('k', 1), 'g'), true);
  assert.equal(ix.add('', 'a/+', entry('k', 2), 'g'), false);
  assert.equal(ix.size, 2);
});

test('overlapping subscriptions of one key are visited once per entry', () => {
  const ix = new SubscriptionIndex();
  ix.add('', 'a/b', entry('k', 0, 1));
  ix.add('', 'a/+', entry('k', 1, 2));
  ix.add('', 'a/#', entry('k', 2, 3));
  ix.add('', '#', entry('k', 0, 4));
  const ids: number[] = [];
  ix.match('', 'a/b', (e) => ids.push(e.subId!));
  assert.deepEqual(ids.sort(), [1, 2, 3, 4]);
});

test('remove deletes one subscription and prunes empty structures', () => {
  const ix = new SubscriptionIndex();
  ix.add('', 'a/+/c/#', entry('k1'));
  ix.add('', 'a/+/c', entry('k2'));
  ix.add('', 'a/b', entry('k1'));
  ix.add('', '+', entry('k3'), 'g');
  assert.equal(ix.remove('', 'a/+/c/#', 'k2'), false);
  assert.equal(ix.remove('', 'a/+/x', 'k1'), false);
  assert.equal(ix.remove('other', 'a/b', 'k1'), false);
  assert.equal(ix.remove('', '+', 'k3'), false, 'non-shared remove does not touch a shared entry');
  assert.equal(ix.remove('', 'a/+/c/#', 'k1'), true);
  assert.equal(ix.remove('', 'a/+/c/#', 'k1'), false);
  assert.deepEqual(matchKeys(ix, '', 'a/x/c'), ['k2']);
  assert.deepEqual(matchKeys(ix, '', 'a/x/c/d'), []);
  assert.equal(ix.remove('', 'a/+/c', 'k2'), true);
  assert.equal(ix.remove('', 'a/b', 'k1'), true);
  assert.equal(ix.remove('', '+', 'k3', 'g'), true);
  assert.equal(ix.size, 0);
  assert.equal(isPruned(ix), true);
  assert.deepEqual(matchKeys(ix, '', 'a/x/c'), []);
});

test('removeKey removes every subscription of a key, shared ones included', () => {
  const ix = new SubscriptionIndex();
  ix.add('', 'a/b', entry('k1'));
  ix.add('', 'a/#', entry('k1'));
  ix.add('m1', 'a/#', entry('k1'));
  ix.add('', 'a/+', entry('k1'), 'g');
  ix.add('', 'a/+', entry('k2'), 'g');
  ix.add('', 'a/b', entry('k2'));
  assert.equal(ix.removeKey('k1'), 4);
  assert.equal(ix.removeKey('k1'), 0);
  assert.equal(ix.size, 2);
  assert.deepEqual(matchKeys(ix, '', 'a/b'), ['k2', 'k2@g']);
  assert.deepEqual(matchKeys(ix, 'm1', 'a/b'), []);
  assert.deepEqual(ix.subscriptionsOf('k1'), []);
  assert.equal(ix.removeKey('k2'), 2);
  assert.equal(ix.size, 0);
  assert.equal(isPruned(ix), true);
});

test('mountpoints never match each other', () => {
  const ix = new SubscriptionIndex();
  ix.add('', 'a/b', entry('default'));
  ix.add('tenant1', 'a/b', entry('t1'));
  ix.add('tenant1', '#', entry('t1all'));
  ix.add('tenant2', 'a/+', entry('t2'));
  assert.deepEqual(matchKeys(ix, '', 'a/b'), ['default']);
  assert.deepEqual(matchKeys(ix, 'tenant1', 'a/b'), ['t1', 't1all']);
  assert.deepEqual(matchKeys(ix, 'tenant2', 'a/b'), ['t2']);
  assert.deepEqual(matchKeys(ix, 'tenant3', 'a/b'), []);
});

test('a shared group delivers to exactly one member, round robin [MQTT-4.8.2]', () => {
  const ix = new SubscriptionIndex();
  for (const k of ['a', 'b', 'c']) ix.add('', 'sensors/+', entry(k), 'g');
  const picks: string[] = [];
  for (let i = 0; i < 6; i++) {
    const got = matchKeys(ix, '', 'sensors/1');
    assert.equal(got.length, 1);
    picks.push(got[0]);
  }
  // Each member gets every third message, in a stable rotation.
  assert.deepEqual(picks.slice(0, 3).sort(), ['a@g', 'b@g', 'c@g']);
  assert.deepEqual(picks.slice(3), picks.slice(0, 3));
});

test('separate groups and separate filters of one group each get one delivery', () => {
  const ix = new SubscriptionIndex();
  ix.add('', 'x/+', entry('a'), 'g1');
  ix.add('', 'x/+', entry('b'), 'g1');
  ix.add('', 'x/+', entry('c'), 'g2');
  ix.add('', 'x/#', entry('a'), 'g1');
  ix.add('', 'x/+', entry('plain'));
  const got = matchKeys(ix, '', 'x/y');
  assert.equal(got.length, 4, got.join());
  assert.equal(got.filter((s) => s.endsWith('@g1')).length, 2);
  assert.ok(got.includes('c@g2'));
  assert.ok(got.includes('plain'));
});

test('round robin skips members that are not eligible', () => {
  const ix = new SubscriptionIndex();
  for (const k of ['a', 'b', 'c']) ix.add('', 't', entry(k), 'g');
  const offline = new Set(['b']);
  const eligible = (k: string) => !offline.has(k);
  const picks: string[] = [];
  for (let i = 0; i < 6; i++) picks.push(...matchKeys(ix, '', 't', eligible));
  assert.equal(picks.length, 6);
  assert.equal(picks.filter((p) => p === 'a@g').length, 3);
  assert.equal(picks.filter((p) => p === 'c@g').length, 3);
  // When nobody is eligible one member is still chosen (the message is queued, not dropped).
  const none = matchKeys(ix, '', 't', () => false);
  assert.equal(none.length, 1);
});

test('shared members leave the rotation when removed', () => {
  const ix = new SubscriptionIndex();
  for (const k of ['a', 'b', 'c']) ix.add('', 't', entry(k), 'g');
  matchKeys(ix, '', 't');
  assert.equal(ix.remove('', 't', 'b', 'g'), true);
  const picks = new Set<string>();
  for (let i = 0; i < 4; i++) for (const p of matchKeys(ix, '', 't')) picks.add(p);
  assert.deepEqual([...picks].sort(), ['a@g', 'c@g']);
});

test('subscriptionsOf lists every subscription of a key', () => {
  const ix = new SubscriptionIndex();
  ix.add('', 'a/b', entry('k', 1));
  ix.add('m', 'a/#', entry('k', 2));
  ix.add('', '+/x', entry('k', 0), 'grp');
  ix.add('', 'a/b', entry('other'));
  const subs = ix
    .subscriptionsOf('k')
    .map((s) => `${s.mountpoint}|${s.filter}|${s.group ?? '-'}|${s.entry.qos}`)
    .sort();
  assert.deepEqual(subs, ['m|a/#|-|2', '|+/x|grp|0', '|a/b|-|1'].sort());
});

test('match may be called again from inside visit', () => {
  const ix = new SubscriptionIndex();
  ix.add('', 'a/+/c', entry('outer'));
  ix.add('', 'x/+/z/#', entry('inner'));
  const outer: string[] = [];
  const inner: string[] = [];
  ix.match('', 'a/b/c', (e) => {
    outer.push(e.key);
    ix.match('', 'x/y/z/w/v', (f) => inner.push(f.key));
  });
  assert.deepEqual(outer, ['outer']);
  assert.deepEqual(inner, ['inner']);
  // The scratch buffer is still sound afterwards.
  assert.deepEqual(matchKeys(ix, '', 'a/q/c'), ['outer']);
});

/** xorshift32: deterministic across runs and platforms. */
function prng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

test('property: index.match agrees with brute-force topicMatchesFilter (seeded)', () => {
  const rnd = prng(20240611);
  const words = ['a', 'b', 'c', '', '$s'];
  const mounts = ['', 'm'];
  const randomLevels = (allowWild: boolean): string => {
    const n = 1 + rnd(4);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = rnd(10);
      if (allowWild && r < 2) parts.push('+');
      else if (allowWild && r === 2 && i === n - 1) parts.push('#');
      else parts.push(words[rnd(words.length)]);
    }
    const s = parts.join('/');
    return s === '' ? 'a' : s;
  };

  interface Sub {
    mountpoint: string;
    filter: string;
    key: string;
    group?: string;
    e: SubEntry;
  }
  const ix = new SubscriptionIndex();
  const live = new Map<string, Sub>();
  const id = (s: { mountpoint: string; filter: string; key: string; group?: string }) => `${s.mountpoint}|${s.filter}|${s.key}|${s.group ?? ''}`;
  let totalMatches = 0;

  for (let step = 0; step < 4000; step++) {
    const op = rnd(10);
    if (op < 5) {
      const sub: Sub = { mountpoint: mounts[rnd(2)], filter: randomLevels(true), key: `k${rnd(30)}`, e: entry('') };
      if (rnd(5) === 0) sub.group = `g${rnd(2)}`;
      sub.e = entry(sub.key, 0, step);
      const isNew = ix.add(sub.mountpoint, sub.filter, sub.e, sub.group);
      assert.equal(isNew, !live.has(id(sub)));
      live.set(id(sub), sub);
    } else if (op < 7 && live.size > 0) {
      const all = [...live.values()];
      const victim = all[rnd(all.length)];
      assert.equal(ix.remove(victim.mountpoint, victim.filter, victim.key, victim.group), true);
      live.delete(id(victim));
    } else if (op === 7) {
      const key = `k${rnd(30)}`;
      let expected = 0;
      for (const [k, s] of live)
        if (s.key === key) {
          live.delete(k);
          expected++;
        }
      assert.equal(ix.removeKey(key), expected);
    } else {
      const mountpoint = mounts[rnd(2)];
      const topic = randomLevels(false);
      // Expected: every matching plain entry, and one member per matching (group, filter).
      const plain = new Set<SubEntry>();
      const groups = new Map<string, Set<SubEntry>>();
      for (const s of live.values()) {
        if (s.mountpoint !== mountpoint || !topicMatchesFilter(s.filter, topic)) continue;
        if (s.group === undefined) plain.add(s.e);
        else {
          const g = `${s.group}|${s.filter}`;
          if (!groups.has(g)) groups.set(g, new Set());
          groups.get(g)!.add(s.e);
        }
      }
      const seenPlain = new Set<SubEntry>();
      const seenGroups = new Map<string, number>();
      const byEntry = new Map<SubEntry, Sub>();
      for (const s of live.values()) byEntry.set(s.e, s);
      ix.match(mountpoint, topic, (e, group) => {
        if (group === undefined) {
          assert.ok(plain.has(e), `unexpected ${e.key} for ${topic}`);
          assert.ok(!seenPlain.has(e), 'plain entry visited twice');
          seenPlain.add(e);
        } else {
          const s = byEntry.get(e);
          assert.ok(s !== undefined && s.group === group);
          const g = `${group}|${s.filter}`;
          assert.ok(groups.get(g)?.has(e), `unexpected shared pick ${e.key} ${g} for ${topic}`);
          seenGroups.set(g, (seenGroups.get(g) ?? 0) + 1);
        }
        totalMatches++;
      });
      assert.equal(seenPlain.size, plain.size, `missing plain matches for ${mountpoint}|${topic}`);
      assert.equal(seenGroups.size, groups.size, `missing shared groups for ${topic}`);
      for (const n of seenGroups.values()) assert.equal(n, 1);
    }
    assert.equal(ix.size, live.size);
  }
  assert.ok(totalMatches > 500, `the run exercised only ${totalMatches} matches`);

  // subscriptionsOf agrees with the model, then tearing everything down prunes all structure.
  for (let k = 0; k < 30; k++) {
    const key = `k${k}`;
    const expected = [...live.values()]
      .filter((s) => s.key === key)
      .map(id)
      .sort();
    const got = ix
      .subscriptionsOf(key)
      .map((s) => id({ mountpoint: s.mountpoint, filter: s.filter, key: s.entry.key, group: s.group }))
      .sort();
    assert.deepEqual(got, expected);
  }
  for (const s of live.values()) assert.equal(ix.remove(s.mountpoint, s.filter, s.key, s.group), true);
  assert.equal(ix.size, 0);
  assert.equal(isPruned(ix), true);
});
