import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSharedFilter, validateTopicFilter, validateTopicName, isWildcardFilter } from '../../common/src/topic.js';

const L = 32;

test('valid topic names pass', () => {
  for (const t of ['a', 'a/b/c', '/', '//', '/a', 'a/', '$SYS/broker/load', 'é/ü', 'a b/c', '\u{1F600}/x', 'sport/tennis/player1']) {
    assert.equal(validateTopicName(t, L), undefined, t);
  }
});

test('empty topic name is rejected [MQTT-4.7.3-1]', () => {
  assert.match(validateTopicName('', L) ?? '', /empty/);
});

test('wildcards in topic names are rejected [MQTT-3.3.2-2]', () => {
  for (const t of ['+', '#', 'a/+', 'a/#', 'a+b', 'a#', '+/x']) assert.match(validateTopicName(t, L) ?? '', /wildcard/, t);
});

test('NUL is rejected [MQTT-1.5.4-2]', () => {
  assert.match(validateTopicName('a\u0000b', L) ?? '', /NUL/);
  assert.match(validateTopicFilter('a/\u0000', L) ?? '', /NUL/);
});

test('lone surrogates are rejected, surrogate pairs accepted [MQTT-1.5.4-1]', () => {
  assert.match(validateTopicName('a\ud800', L) ?? '', /surrogate/);
  assert.match(validateTopicName('\udc00a', L) ?? '', /surrogate/);
  assert.match(validateTopicName('a\ud800b', L) ?? '', /surrogate/);
  assert.match(validateTopicName('\udbff\udbff', L) ?? '', /surrogate/);
  assert.match(validateTopicFilter('x/\udfff/#', L) ?? '', /surrogate/);
  assert.equal(validateTopicName('a\ud83d\ude00', L), undefined);
});

test('U+FFFD (what mqtt-packet makes of malformed UTF-8) is rejected', () => {
  assert.match(validateTopicName('a/\ufffd', L) ?? '', /FFFD/);
  assert.match(validateTopicFilter('\ufffd/#', L) ?? '', /FFFD/);
});

test('level limit counts levels, including empty ones', () => {
  assert.equal(validateTopicName('a/b/c', 3), undefined);
  assert.match(validateTopicName('a/b/c/d', 3) ?? '', /levels/);
  assert.match(validateTopicName('///', 3) ?? '', /levels/);
  assert.equal(validateTopicFilter('a/+/#', 3), undefined);
  assert.match(validateTopicFilter('a/+/c/#', 3) ?? '', /levels/);
});

test('byte limit counts UTF-8 bytes, not UTF-16 units', () => {
  assert.equal(validateTopicName('a'.repeat(65535), 100), undefined);
  assert.match(validateTopicName('a'.repeat(65536), 100) ?? '', /65535/);
  // 'é' is 2 bytes: 32768 of them = 65536 bytes but only 32768 UTF-16 units.
  assert.match(validateTopicName('é'.repeat(32768), 100) ?? '', /65535/);
  assert.equal(validateTopicName('é'.repeat(32767), 100), undefined);
  // 3-byte and 4-byte characters.
  assert.match(validateTopicName('€'.repeat(21846), 100) ?? '', /65535/);
  assert.equal(validateTopicName('€'.repeat(21845), 100), undefined);
  assert.match(validateTopicName('\u{1F600}'.repeat(16384), 100) ?? '', /65535/);
  assert.equal(validateTopicName('\u{1F600}'.repeat(16383), 100), undefined);
});

test('valid filters pass [MQTT-4.7.1]', () => {
  for (const f of ['#', '+', '+/+', 'a/#', 'a/+/c', '/+', '+/', '/#', 'a//#', '$SYS/#', '+/tennis/#', 'sport/+']) {
    assert.equal(validateTopicFilter(f, L), undefined, f);
  }
});

test('misplaced wildcards are rejected [MQTT-4.7.1-1..3]', () => {
  for (const f of ['a/#/b', '#/a', 'a#', 'a/b#', '##', 'a/#/']) assert.match(validateTopicFilter(f, L) ?? '', /#/, f);
  for (const f of ['a+', 'a/+b', '++', '+a/b', 'a/b+/c']) assert.match(validateTopicFilter(f, L) ?? '', /\+/, f);
  assert.match(validateTopicFilter('', L) ?? '', /empty/);
});

test('parseSharedFilter splits $share/<group>/<filter> [MQTT-4.8.2]', () => {
  assert.deepEqual(parseSharedFilter('$share/g1/a/b/#'), { group: 'g1', filter: 'a/b/#' });
  assert.deepEqual(parseSharedFilter('$share/g/+'), { group: 'g', filter: '+' });
  assert.deepEqual(parseSharedFilter('$share/g//'), { group: 'g', filter: '/' });
  assert.equal(parseSharedFilter('a/b'), undefined);
  assert.equal(parseSharedFilter('$share'), undefined);
  assert.equal(parseSharedFilter('$SHARE/g/a'), undefined);
  assert.equal(parseSharedFilter('$shared/g/a'), undefined);
});

test('parseSharedFilter rejects bad share names and empty filters [MQTT-4.8.2-1/2]', () => {
  for (const f of ['$share/', '$share/g', '$share//a', '$share/g/', '$share/g+/a', '$share/#/a', '$share/a#b/x', '$share/+/x']) {
    assert.equal(parseSharedFilter(f), 'invalid', f);
  }
});

test('isWildcardFilter', () => {
  assert.equal(isWildcardFilter('a/b'), false);
  assert.equal(isWildcardFilter('a/+'), true);
  assert.equal(isWildcardFilter('#'), true);
});
