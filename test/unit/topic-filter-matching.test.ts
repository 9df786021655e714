import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topicMatchesFilter } from '../../common/src/topic.js';
import { referenceMatch } from '../support/reference-topic-match.js';

/** [filter, topic, expected] */
const cases: Array<[string, string, boolean]> = [
  // exact
  ['a/b', 'a/b', true],
  ['a/b', 'a/c', false],
  ['a/b', 'a/bc', false],
  ['a/bc', 'a/b', false],
  ['a', 'a/b', false],
  ['a/b', 'a', false],
  ['/', '/', true],
  ['a/', 'a', false],
  ['a', 'a/', false],
  ['a/', 'a/', true],
  // `#` (spec examples, [MQTT-4.7.1-2])
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/#', 'sport', true],
  ['sport/#', 'sports', false],
  ['sport/#', 'sport/', true],
  ['#', 'a', true],
  ['#', '/', true],
  ['#', 'a/b/c', true],
  ['a/#', 'b', false],
  ['a/b/#', 'a', false],
  ['/#', '/', true],
  ['/#', 'a', false],
  ['a//#', 'a/', true],
  // `+` (spec examples, [MQTT-4.7.1-3])
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player2', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+', 'a', true],
  ['+', '/', false],
  ['+/+', '/', true],
  ['/+', '/finance', true],
  ['+', '/finance', false],
  ['a/+/c', 'a//c', true],
  ['a/+/c', 'a/b/c', true],
  ['a/+/c', 'a/b/d', false],
  ['a/+/c', 'a/b/c/d', false],
  ['+/#', 'a', true],
  ['+/#', 'a/b/c', true],
  ['+/+/#', 'a', false],
  ['+/b/#', 'a/b', true],
  ['+/b/#', 'a/c', false],
  // `$` topics [MQTT-4.7.2-1]
  ['#', '$SYS', false],
  ['#', '$SYS/broker', false],
  ['+/monitor/Clients', '$SYS/monitor/Clients', false],
  ['+', '$SYS', false],
  ['$SYS/#', '$SYS/monitor/Clients', true],
  ['$SYS/#', '$SYS', true],
  ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
  ['$SYS/+/Clients', '$SYS/monitor/Clients', true],
  ['a/#', 'a/$x', true],
  ['a/+', 'a/$x', true],
  // UTF-8 / case
  ['é/+', 'é/ü', true],
  ['A', 'a', false],
];

test('topicMatchesFilter follows MQTT matching rules [MQTT-4.7]', () => {
  for (const [filter, topic, expected] of cases) {
    assert.equal(topicMatchesFilter(filter, topic), expected, `${filter} vs ${topic}`);
  }
});

test('empty strings never match', () => {
  assert.equal(topicMatchesFilter('', ''), false);
  assert.equal(topicMatchesFilter('#', ''), false);
  assert.equal(topicMatchesFilter('', 'a'), false);
});

test('agrees with a split-based reference on random inputs (seeded)', () => {
  let s = 0x9e3779b9;
  const rnd = (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
  const words = ['a', 'b', '', '$x', 'ab'];
  let checked = 0;
  let matched = 0;
  for (let k = 0; k < 20000; k++) {
    const tl = 1 + rnd(4);
    const t: string[] = [];
    for (let i = 0; i < tl; i++) t.push(words[rnd(words.length)]);
    const fl = 1 + rnd(4);
    const f: string[] = [];
    for (let i = 0; i < fl; i++) {
      const r = rnd(10);
      f.push(r < 2 ? '+' : r === 2 && i === fl - 1 ? '#' : words[rnd(words.length)]);
    }
    const topic = t.join('/');
    const filter = f.join('/');
    if (topic === '' || filter === '') continue; // not valid names/filters [MQTT-4.7.3-1]
    const got = topicMatchesFilter(filter, topic);
    assert.equal(got, referenceMatch(filter, topic), `${filter} vs ${topic}`);
    checked++;
    if (got) matched++;
  }
  // The generator must exercise both outcomes, or the comparison proves little.
  assert.ok(checked > 15000, `checked ${checked}`);
  assert.ok(matched > 1000 && matched < checked - 1000, `matched ${matched} of ${checked}`);
});
