import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics, metricNameProblem } from '../../common/src/metrics.js';

/** Every shardmq metric is shardmq_<tier>_<what>_<unit>, counters ending in _total (docs/operations.md). */

test('names of the convention pass', () => {
  assert.equal(metricNameProblem('gateway_bytes_in_total', 'counter'), undefined);
  assert.equal(metricNameProblem('session_write_seconds', 'histogram'), undefined);
  assert.equal(metricNameProblem('router_subscriptions', 'gauge'), undefined);
});

test('a name without a tier, a counter without _total and a gauge with it are refused', () => {
  assert.match(metricNameProblem('limit_hits_total', 'counter') ?? '', /not <tier>_<what>/);
  assert.match(metricNameProblem('gateway_connections', 'counter') ?? '', /does not end in _total/);
  assert.match(metricNameProblem('session_queued_total', 'gauge') ?? '', /reserved for counters/);
  assert.match(metricNameProblem('Gateway_Bytes_total', 'counter') ?? '', /not <tier>_<what>/);
});

test('the metrics helper refuses to create a name that breaks the convention', () => {
  const m = new Metrics(false);
  assert.throws(() => m.counter('shards_owned', 'no tier'), /not <tier>_<what>/);
  assert.throws(() => m.gauge('router_things_total', 'gauge named like a counter'), /reserved for counters/);
  m.counter('router_things_total', 'fine');
  assert.ok(m.registry.getSingleMetric('shardmq_router_things_total'));
});

test("Node's process metrics keep prom-client's standard names", async () => {
  const text = await new Metrics().registry.metrics();
  assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
  assert.match(text, /^# TYPE nodejs_eventloop_lag_p99_seconds gauge$/m);
  assert.doesNotMatch(text, /shardmq_process_process_|shardmq_process_nodejs_/);
});
