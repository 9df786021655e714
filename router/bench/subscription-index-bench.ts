#!/usr/bin/env node
/**
 * Micro-benchmark of the router's hot path (not a test; numbers depend on the machine):
 *   npm run bench:router -- [--subs 100000] [--publishes 1000000]
 *   (= npx tsc -b && node dist/router/bench/subscription-index-bench.js ...)
 * It lives with the router because it measures router internals (tier boundaries: docs/architecture.md).
 * Builds a SubscriptionIndex with an IoT-like mix (per-device exact command topics, per-device
 * wildcard filters, fleet-wide `#` filters, one `$share` group, a few global monitors), then times
 * match() for a seeded stream of topics and prints matches/s (publishes matched per second) and
 * visits/s (entries delivered per second). Also times topicMatchesFilter and retained wildcard lookups.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { SubscriptionIndex, type SubEntry } from '../src/index/subscription-index.js';
import { createRetainedStore } from '../src/index/retained-store.js';
import { topicMatchesFilter } from '../../common/src/index.js';

const { values } = parseArgs({
  options: {
    subs: { type: 'string', default: '100000' },
    publishes: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '42' },
  },
});
const subs = Number(values.subs);
const publishes = Number(values.publishes);

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
const rnd = prng(Number(values.seed));

const entry = (key: string, qos: 0 | 1 | 2): SubEntry => ({ key, qos, noLocal: false, retainAsPublished: false });

// --- build: ~50% exact, ~40% per-device wildcard, ~10% fleet/group wildcard, plus shared + monitors.
const devices = Math.max(1, Math.floor(subs / 5));
const fleets = Math.max(1, Math.floor(devices / 20));
const ix = new SubscriptionIndex();
let t0 = performance.now();
for (let d = 0; d < devices; d++) {
  const key = `dev-${d}`;
  ix.add('', `devices/${d}/cmd`, entry(key, 1));
  ix.add('', `devices/${d}/ota`, entry(key, 1));
  ix.add('', `devices/${d}/config/+`, entry(key, 1));
  ix.add('', `devices/${d}/rpc/#`, entry(key, 0));
  // Back-office apps: one per 20 devices' worth of fleet wildcard subscriptions.
  ix.add('', `fleet/${d % fleets}/+/status`, entry(`app-${d}`, 0));
}
for (let m = 0; m < 50; m++) ix.add('', 'telemetry/+/#', entry(`ingest-${m}`, 1), 'ingest');
ix.add('', '#', entry('monitor-all', 0));
ix.add('', '$SYS/#', entry('monitor-sys', 0));
const buildMs = performance.now() - t0;

// --- topics: a seeded mix of what devices and apps publish.
const topicCount = 65536;
const topics: string[] = new Array(topicCount);
for (let i = 0; i < topicCount; i++) {
  const d = rnd(devices);
  switch (rnd(4)) {
    case 0:
      topics[i] = `telemetry/${d}/temp`;
      break;
    case 1:
      topics[i] = `devices/${d}/cmd`;
      break;
    case 2:
      topics[i] = `fleet/${d % fleets}/${d}/status`;
      break;
    default:
      topics[i] = `devices/${d}/config/net`;
      break;
  }
}

let visits = 0;
const visit = (): void => {
  visits++;
};
const eligible = (key: string): boolean => key.length !== 0;

function run(n: number): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) ix.match('', topics[i & (topicCount - 1)], visit, eligible);
  return performance.now() - start;
}
run(Math.min(publishes, 200000)); // warm-up (JIT)
visits = 0;
const matchMs = run(publishes);

// --- topicMatchesFilter alone (ACL checks use it).
const filters = ['devices/+/config/#', 'telemetry/+/temp', 'fleet/3/+/status', '#', 'devices/17/cmd'];
let hits = 0;
t0 = performance.now();
for (let i = 0; i < publishes; i++) if (topicMatchesFilter(filters[i % filters.length], topics[i & (topicCount - 1)])) hits++;
const fnMs = performance.now() - t0;

// --- retained: one message per device config topic, wildcard lookups for one device.
const retained = createRetainedStore<number>();
for (let d = 0; d < devices; d++) {
  retained.set('', `devices/${d}/config/net`, d);
  retained.set('', `devices/${d}/config/fw`, d);
}
let retainedHits = 0;
const retainedLookups = Math.min(publishes, 200000);
t0 = performance.now();
for (let i = 0; i < retainedLookups; i++)
  retained.match('', `devices/${i % devices}/config/+`, () => {
    retainedHits++;
  });
const retainedMs = performance.now() - t0;

const per = (n: number, ms: number) => Math.round(n / (ms / 1000)).toLocaleString('en-US');
console.log(`subscriptions            ${ix.size.toLocaleString('en-US')} (built in ${buildMs.toFixed(0)} ms)`);
console.log(`index.match              ${per(publishes, matchMs)} matches/s, ${per(visits, matchMs)} visits/s (${(visits / publishes).toFixed(2)} visits per publish)`);
console.log(`topicMatchesFilter       ${per(publishes, fnMs)} calls/s (${hits} hits)`);
console.log(`retained.match (+)       ${per(retainedLookups, retainedMs)} lookups/s over ${retained.size.toLocaleString('en-US')} retained (${retainedHits} hits)`);
