import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRetainedStore, type RetainedStore } from '../../router/src/index/retained-store.js';
import { topicMatchesFilter } from '../../common/src/topic.js';

function matchTopics<M>(store: RetainedStore<M>, mountpoint: string, filter: string): string[] {
  const out: string[] = [];
  store.match(mountpoint, filter, (t) => out.push(t));
  return out.sort();
}

function isPruned(store: RetainedStore<unknown>): boolean {
  return (store as unknown as { mounts: Map<string, unknown> }).mounts.size === 0;
}

test('set returns the previous message, get and delete work per topic', () => {
  const s = createRetainedStore<string>();
  assert.equal(s.set('', 'a/b', 'v1'), undefined);
  assert.equal(s.set('', 'a/b', 'v2'), 'v1');
  assert.equal(s.get('', 'a/b'), 'v2');
  assert.equal(s.get('', 'a'), undefined);
  assert.equal(s.size, 1);
  assert.equal(s.delete('', 'a'), false);
  assert.equal(s.delete('', 'a/b'), true);
  assert.equal(s.delete('', 'a/b'), false);
  assert.equal(s.get('', 'a/b'), undefined);
  assert.equal(s.size, 0);
});

test('exact and wildcard filters find retained messages', () => {
  const s = createRetainedStore<number>();
  const topics = ['a', 'a/b', 'a/c', 'a/b/c', 'x/b', '/', 'a/', 'b/b/b'];
  topics.forEach((t, i) => s.set('', t, i));
  assert.deepEqual(matchTopics(s, '', 'a/b'), ['a/b']);
  assert.deepEqual(matchTopics(s, '', 'a/x'), []);
  assert.deepEqual(matchTopics(s, '', 'a/+'), ['a/', 'a/b', 'a/c']);
  assert.deepEqual(matchTopics(s, '', '+/b'), ['a/b', 'x/b']);
  assert.deepEqual(matchTopics(s, '', '+/+/+'), ['a/b/c', 'b/b/b']);
  assert.deepEqual(matchTopics(s, '', '#'), [...topics].sort());
  assert.deepEqual(matchTopics(s, '', '+'), ['a']);
  assert.deepEqual(matchTopics(s, '', '+/'), ['/', 'a/']);
  const got: Array<[string, number]> = [];
  s.match('', 'a/b/+', (t, m) => got.push([t, m]));
  assert.deepEqual(got, [['a/b/c', 3]]);
});

test('# matches the parent level; + matches an empty level', () => {
  const s = createRetainedStore<number>();
  s.set('', 'sport', 1);
  s.set('', 'sport/', 2);
  s.set('', 'sport/tennis', 3);
  s.set('', 'sports', 4);
  s.set('', 'a//c', 5);
  assert.deepEqual(matchTopics(s, '', 'sport/#'), ['sport', 'sport/', 'sport/tennis']);
  assert.deepEqual(matchTopics(s, '', 'sport/+'), ['sport/', 'sport/tennis']);
  assert.deepEqual(matchTopics(s, '', 'a/+/c'), ['a//c']);
});

test('wildcards at the first level skip $ topics [MQTT-4.7.2-1]', () => {
  const s = createRetainedStore<number>();
  s.set('', '$SYS/broker/uptime', 1);
  s.set('', '$SYS', 2);
  s.set('', 'app/$x', 3);
  s.set('', 'plain', 4);
  assert.deepEqual(matchTopics(s, '', '#'), ['app/$x', 'plain']);
  assert.deepEqual(matchTopics(s, '', '+/broker/uptime'), []);
  assert.deepEqual(matchTopics(s, '', '+'), ['plain']);
  assert.deepEqual(matchTopics(s, '', '$SYS/#'), ['$SYS', '$SYS/broker/uptime']);
  assert.deepEqual(matchTopics(s, '', '$SYS/+/uptime'), ['$SYS/broker/uptime']);
  assert.deepEqual(matchTopics(s, '', 'app/+'), ['app/$x']);
});

test('mountpoints are isolated', () => {
  const s = createRetainedStore<string>();
  s.set('', 'a/b', 'default');
  s.set('t1', 'a/b', 'tenant');
  assert.equal(s.get('', 'a/b'), 'default');
  assert.equal(s.get('t1', 'a/b'), 'tenant');
  assert.equal(s.get('t2', 'a/b'), undefined);
  assert.deepEqual(matchTopics(s, 't1', '#'), ['a/b']);
  assert.deepEqual(matchTopics(s, 't2', '#'), []);
  assert.equal(s.delete('t1', 'a/b'), true);
  assert.equal(s.get('', 'a/b'), 'default');
  assert.equal(s.size, 1);
});

test('entries lists every retained message with its mountpoint', () => {
  const s = createRetainedStore<number>();
  s.set('', 'a', 1);
  s.set('m', 'b/c', 2);
  s.set('', 'd/e', 3);
  const all = [...s.entries()].map(([m, t, v]) => `${m}|${t}|${v}`).sort();
  assert.deepEqual(all, ['m|b/c|2', '|a|1', '|d/e|3'].sort());
});

test('deleting keeps descendants and ancestors reachable and prunes the rest', () => {
  const s = createRetainedStore<number>();
  const rootLevels = () => [...((s as unknown as { mounts: Map<string, { root: { children?: Map<string, unknown> } }> }).mounts.get('')?.root.children?.keys() ?? [])].sort();
  s.set('', 'a', 1);
  s.set('', 'a/b', 2);
  s.set('', 'a/b/c', 3);
  s.set('', 'z/y', 4);
  assert.equal(s.delete('', 'a/b'), true);
  assert.deepEqual(matchTopics(s, '', 'a/#'), ['a', 'a/b/c']);
  assert.equal(s.delete('', 'a'), true);
  assert.deepEqual(matchTopics(s, '', '#'), ['a/b/c', 'z/y']);
  assert.deepEqual(rootLevels(), ['a', 'z']);
  assert.equal(s.delete('', 'a/b/c'), true);
  assert.deepEqual(matchTopics(s, '', '#'), ['z/y']);
  assert.deepEqual(rootLevels(), ['z'], 'the emptied a/b/c branch is pruned');
  assert.equal(s.delete('', 'z/y'), true);
  assert.equal(isPruned(s), true);
});

/** xorshift32: deterministic across runs and platforms. */
function prng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

test('property: match agrees with brute-force topicMatchesFilter (seeded)', () => {
  const rnd = prng(77);
  const words = ['a', 'b', '', '$s', 'cc'];
  const levels = (wild: boolean): string => {
    const n = 1 + rnd(4);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = rnd(10);
      if (wild && r < 2) parts.push('+');
      else if (wild && r === 2 && i === n - 1) parts.push('#');
      else parts.push(words[rnd(words.length)]);
    }
    const t = parts.join('/');
    return t === '' ? 'a' : t;
  };
  const store = createRetainedStore<number>();
  const model = new Map<string, number>(); // `${mountpoint}|${topic}` -> msg
  let nonEmpty = 0;
  for (let step = 0; step < 4000; step++) {
    const mp = rnd(3) === 0 ? 'm' : '';
    const op = rnd(10);
    if (op < 5) {
      const topic = levels(false);
      const prev = model.get(`${mp}|${topic}`);
      assert.equal(store.set(mp, topic, step), prev);
      model.set(`${mp}|${topic}`, step);
    } else if (op < 7) {
      const topic = levels(false);
      assert.equal(store.delete(mp, topic), model.delete(`${mp}|${topic}`));
    } else {
      const filter = levels(true);
      const expected: string[] = [];
      for (const [k, v] of model) {
        const sep = k.indexOf('|');
        const kmp = k.slice(0, sep);
        const topic = k.slice(sep + 1);
        if (kmp === mp && topicMatchesFilter(filter, topic)) expected.push(`${topic}=${v}`);
      }
      const got: string[] = [];
      store.match(mp, filter, (t, v) => got.push(`${t}=${v}`));
      assert.deepEqual(got.sort(), expected.sort(), `${mp}|${filter}`);
      if (got.length > 0) nonEmpty++;
    }
    assert.equal(store.size, model.size);
  }
  assert.ok(nonEmpty > 200, `only ${nonEmpty} matches returned anything`);
  for (const k of model.keys()) {
    const sep = k.indexOf('|');
    assert.equal(store.delete(k.slice(0, sep), k.slice(sep + 1)), true);
  }
  assert.equal(isPruned(store), true);
});
