// @ts-check
/**
 * Connection storm (k6 + grafana/xk6-mqtt, MQTT 3.1.1): CLIENTS connections, at most CONCURRENCY
 * handshakes at a time (shared-iterations: CONCURRENCY VUs work through CLIENTS iterations), each
 * holding its connection HOLD_S seconds before a clean DISCONNECT.
 *
 *   k6 run -e MQTT_URL=mqtt://127.0.0.1:1883 -e CLIENTS=5000 -e CONCURRENCY=200 loadtest/k6/connect-storm.js
 *
 * Metrics: mqtt_connect_time (CONNECT -> CONNACK), mqtt_connects, mqtt_connect_failures.
 */
import { Counter, Trend } from 'k6/metrics';
import { clearTimeout, setTimeout } from 'k6/timers';
import { Client } from 'k6/x/mqtt';
import { brokerUrl, clientOptions, envNumber, makeRunTag } from './lib/common.js';

const CLIENTS = envNumber('CLIENTS', 1000, 1);
const CONCURRENCY = envNumber('CONCURRENCY', 100, 1);
const HOLD_S = envNumber('HOLD_S', 0);
const CONNECT_TIMEOUT_MS = envNumber('CONNECT_TIMEOUT_MS', 10000, 100);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    storm: {
      executor: 'shared-iterations',
      vus: Math.min(CONCURRENCY, CLIENTS),
      iterations: CLIENTS,
      maxDuration: envNumber('MAX_DURATION_S', 600, 1) + 's',
    },
  },
  thresholds: {
    mqtt_connect_failures: ['count==0'],
  },
};

const connectTime = new Trend('mqtt_connect_time', true);
const connects = new Counter('mqtt_connects');
const failures = new Counter('mqtt_connect_failures');

export function setup() {
  return { tag: makeRunTag() };
}

/** @param {{ tag: string }} data */
export default function (data) {
  const client = new Client(clientOptions(`k6storm-${data.tag}-${__VU}-${__ITER}`));
  const started = Date.now();
  let settled = false;
  // The handshake must finish in time; a broker dropping SYNs (small listen backlog) shows up here.
  const guard = setTimeout(() => {
    if (settled) return;
    settled = true;
    failures.add(1, { reason: 'timeout' });
    client.end();
  }, CONNECT_TIMEOUT_MS + 1000);

  client.on('connect', () => {
    if (settled) return;
    settled = true;
    clearTimeout(guard);
    connectTime.add(Date.now() - started);
    connects.add(1);
    if (HOLD_S > 0) setTimeout(() => client.end(), HOLD_S * 1000);
    else client.end();
  });
  client.on('error', (err) => {
    if (settled) return;
    settled = true;
    clearTimeout(guard);
    failures.add(1, { reason: err.method });
    client.end();
  });
  client.connect(brokerUrl(), { connect_timeout: CONNECT_TIMEOUT_MS, keepalive: 60, clean_session: true });
}
