import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { brokerFixture } from '../support/broker-fixture.js';
import { scrape } from '../support/broker-metrics.js';

/**
 * deploy/grafana/shardmq-dashboard.json and deploy/prometheus/shardmq-alerts.yaml only query
 * metrics a running cluster exports: every shardmq_*, process_* and nodejs_* name in their PromQL is in the /metrics
 * output of some process of a cluster (each tier a process), and both files have the shape
 * Grafana and Prometheus load.
 */

const root = new URL('../../../', import.meta.url);
const dashboard = JSON.parse(readFileSync(new URL('deploy/grafana/shardmq-dashboard.json', root), 'utf8')) as {
  uid: string;
  panels: Array<{ id: number; title: string; type: string; gridPos: { x: number; w: number }; targets: Array<{ expr: string }> }>;
  templating: { list: Array<{ query: unknown }> };
};
const alerts = parseYaml(readFileSync(new URL('deploy/prometheus/shardmq-alerts.yaml', root), 'utf8')) as {
  groups: Array<{ name: string; rules: Array<{ alert: string; expr: string; for?: string; labels: { severity: string }; annotations: { summary: string } }> }>;
};

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

/** Every metric family the processes export: name -> type, from the # TYPE lines. */
function families(texts: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of texts) for (const m of t.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

function exported(name: string, fam: Map<string, string>): boolean {
  if (fam.has(name)) return true;
  const suffix = HISTOGRAM_SUFFIXES.find((s) => name.endsWith(s));
  return suffix !== undefined && ['histogram', 'summary'].includes(fam.get(name.slice(0, -suffix.length)) ?? '');
}

/** shardmq's own metrics and Node's standard process metrics (prom-client's default names). */
const names = (expr: string) => [...expr.matchAll(/\b(?:shardmq|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0]);

describe('dashboard and alert rules name metrics the broker exports (cluster)', () => {
  const f = brokerFixture('cluster', { gateways: 1 });

  test('both files have the shape Grafana and Prometheus load', () => {
    assert.ok(dashboard.uid && dashboard.panels.length > 10);
    const ids = new Set<number>();
    for (const p of dashboard.panels) {
      assert.ok(!ids.has(p.id), `panel id ${p.id} twice`);
      ids.add(p.id);
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`);
      assert.ok(p.targets.length > 0 && p.targets.every((t) => typeof t.expr === 'string' && t.expr.length > 0), `${p.title} has queries`);
    }
    assert.ok(alerts.groups.length > 0);
    for (const g of alerts.groups) {
      for (const r of g.rules) {
        assert.match(r.alert, /^Shardmq[A-Za-z]+$/);
        assert.ok(['warning', 'critical'].includes(r.labels.severity), `${r.alert} severity`);
        assert.ok(r.annotations.summary, `${r.alert} summary`);
        if (r.for !== undefined) assert.match(r.for, /^\d+[smh]$/);
      }
    }
  });

  test('every metric they query is exported by some process of the cluster', async () => {
    const texts = await Promise.all([...f.broker.httpPorts.values()].map((p) => scrape(p)));
    const fam = families(texts);
    assert.ok(fam.size > 30, `scraped ${fam.size} metric families`);
    const queried = new Map<string, string>();
    for (const p of dashboard.panels) for (const t of p.targets) for (const n of names(t.expr)) queried.set(n, `dashboard panel "${p.title}"`);
    for (const v of dashboard.templating.list) if (typeof v.query === 'string') for (const n of names(v.query)) queried.set(n, 'dashboard variable');
    for (const g of alerts.groups) for (const r of g.rules) for (const n of names(r.expr)) queried.set(n, `alert ${r.alert}`);
    assert.ok(queried.size > 20, `${queried.size} metrics queried`);
    const missing = [...queried].filter(([n]) => !exported(n, fam)).map(([n, where]) => `${n} (${where})`);
    assert.deepEqual(missing, [], 'metrics the broker does not export');
  });
});
