import assert from 'node:assert/strict';
import { test } from 'node:test';
import { labelledCounter, Metrics } from '../../common/src/metrics.js';

test('a labelled hot-path counter shows its increments at scrape time, per label', async () => {
  const m = new Metrics(false);
  const inc = labelledCounter(m.counter('gateway_demo_total', 'demo', ['what']));
  inc('a');
  inc('a', 2);
  inc('b');
  const text = await m.registry.metrics();
  assert.match(text, /shardmq_gateway_demo_total\{what="a"\} 3/);
  assert.match(text, /shardmq_gateway_demo_total\{what="b"\} 1/);
  inc('a');
  assert.match(await m.registry.metrics(), /shardmq_gateway_demo_total\{what="a"\} 4/, 'no double counting across scrapes');
});
