import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { topicMatchesFilter, validateTopicFilter, validateTopicName } from '../../common/src/topic.js';
import { createRetainedStore } from '../../router/src/index/retained-store.js';
import { SubscriptionIndex } from '../../router/src/index/subscription-index.js';
import { fuzzParams } from '../support/fuzz-params.js';
import { referenceLevelsMatch, referenceMatch } from '../support/reference-topic-match.js';

// The three matchers (topicMatchesFilter, the router's subscription index, the retained store)
// against a reference written straight from the spec, on random topics and filters drawn from a
// small alphabet so that matches are frequent, `$` topics and empty levels included.

/** Reference filter validity: non-empty [MQTT-4.7.3-1], `#` alone and last [MQTT-4.7.1-1], `+` alone [MQTT-4.7.1-2]. */
function refValidFilter(filter: string): boolean {
  if (filter === '') return false;
  const levels = filter.split('/');
  return levels.every((l, i) => (l.includes('#') ? l === '#' && i === levels.length - 1 : !l.includes('+') || l === '+'));
}

const level = fc.constantFrom('a', 'b', 'ab', '', '$SYS', '$x', 'x$');
const topic = fc
  .array(level, { minLength: 1, maxLength: 5 })
  .map((l) => l.join('/'))
  .filter((t) => t !== '');
const filter = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 0, maxLength: 5 }), fc.boolean())
  .map(([l, hash]) => (hash ? [...l, '#'] : l).join('/'))
  .filter((f) => f !== '');
const rawFilter = fc.array(fc.constantFrom('a', '+', '#', '/', '$', 'a+', '#a'), { maxLength: 6 }).map((p) => p.join(''));

test('topicMatchesFilter agrees with the reference on valid filters and topics', () => {
  fc.assert(
    fc.property(filter, topic, (f, t) => {
      assert.equal(validateTopicFilter(f, 100), undefined);
      assert.equal(validateTopicName(t, 100), undefined);
      assert.equal(topicMatchesFilter(f, t), referenceMatch(f, t), `${f} vs ${t}`);
    }),
    fuzzParams(3000),
  );
});

test('a first-level wildcard never matches a $ topic [MQTT-4.7.2-1], a literal $ level does', () => {
  fc.assert(
    fc.property(filter, topic, (f, t) => {
      const dollarTopic = `$SYS/${t}`;
      if (f.startsWith('+') || f.startsWith('#')) assert.equal(topicMatchesFilter(f, dollarTopic), false, f);
      assert.equal(topicMatchesFilter(`$SYS/${f}`, dollarTopic), referenceLevelsMatch(f, t), f);
    }),
    fuzzParams(1000),
  );
});

test('validateTopicFilter accepts exactly the filters where # is a whole last level and + a whole level', () => {
  fc.assert(
    fc.property(rawFilter, (f) => {
      assert.equal(validateTopicFilter(f, 100) === undefined, refValidFilter(f), JSON.stringify(f));
    }),
    fuzzParams(2000),
  );
});

test('the subscription index visits exactly the subscriptions whose filter matches', () => {
  fc.assert(
    fc.property(fc.uniqueArray(filter, { maxLength: 12 }), fc.array(topic, { minLength: 1, maxLength: 6 }), (filters, topics) => {
      const idx = new SubscriptionIndex();
      filters.forEach((f, i) => idx.add('', f, { key: `s${i}`, qos: 1, noLocal: false, retainAsPublished: false }));
      // Another mountpoint with every filter: must never leak into mountpoint ''.
      filters.forEach((f, i) => idx.add('other', f, { key: `o${i}`, qos: 1, noLocal: false, retainAsPublished: false }));
      for (const t of topics) {
        const seen: string[] = [];
        idx.match('', t, (e) => seen.push(e.key));
        const want = filters.flatMap((f, i) => (referenceMatch(f, t) ? [`s${i}`] : []));
        assert.deepEqual(seen.sort(), want.sort(), t);
      }
    }),
    fuzzParams(500),
  );
});

test('the retained store returns exactly the stored topics a filter matches', () => {
  fc.assert(
    fc.property(fc.uniqueArray(topic, { maxLength: 12 }), fc.array(filter, { minLength: 1, maxLength: 6 }), (topics, filters) => {
      const store = createRetainedStore<string>();
      for (const t of topics) store.set('', t, t);
      for (const f of filters) {
        const seen: string[] = [];
        store.match('', f, (t) => seen.push(t));
        assert.deepEqual(seen.sort(), topics.filter((t) => referenceMatch(f, t)).sort(), f);
      }
    }),
    fuzzParams(500),
  );
});
