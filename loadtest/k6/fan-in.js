// @ts-check
/**
 * Fan-in (k6 + grafana/xk6-mqtt, MQTT 3.1.1): PUBLISHERS VUs publish to bench/<run>/p<n>/data at
 * RATE_PER_PUBLISHER msgs/s each for DURATION_S seconds; one subscriber VU listens on the wildcard
 * bench/<run>/+/data and measures received rate, loss and latency.
 *
 * Unlike the Node generator (which keeps each publisher at most a window ahead of the subscriber),
 * k6 VUs share no memory, so this script is open-loop: raise the rate step by step and watch for the
 * point where fanin_latency grows or fanin_lost appears; that is the broker's fan-in capacity.
 *
 *   k6 run -e MQTT_URL=mqtt://127.0.0.1:1883 -e PUBLISHERS=100 -e RATE_PER_PUBLISHER=500 loadtest/k6/fan-in.js
 *
 * Metrics: fanin_sent, fanin_received (rate = received / DURATION_S), fanin_lost, fanin_latency.
 */
import { Counter, Trend } from 'k6/metrics';
import { clearInterval, setInterval, setTimeout } from 'k6/timers';
import { Client } from 'k6/x/mqtt';
import { SeqTracker, brokerUrl, clientOptions, envNumber, envQos, envString, makeRunTag, readStamp, stampPayload } from './lib/common.js';

const PUBLISHERS = envNumber('PUBLISHERS', 100, 1);
const RATE_PER_PUBLISHER = envNumber('RATE_PER_PUBLISHER', 200, 1);
const DURATION_S = envNumber('DURATION_S', 30, 1);
const QOS = envQos('QOS', 0);
const PAYLOAD_BYTES = envNumber('PAYLOAD_BYTES', 64, 1);
const PREFIX = envString('TOPIC_PREFIX', 'bench');
const TICK_MS = 10;

const publishersStartS = 2;
const subscriberS = publishersStartS + DURATION_S + 5;

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    subscriber: { executor: 'per-vu-iterations', vus: 1, iterations: 1, exec: 'subscriber', maxDuration: `${subscriberS + 30}s` },
    publishers: {
      executor: 'per-vu-iterations',
      vus: PUBLISHERS,
      iterations: 1,
      exec: 'publisher',
      startTime: `${publishersStartS}s`,
      maxDuration: `${DURATION_S + 60}s`,
    },
  },
};

const sent = new Counter('fanin_sent');
const received = new Counter('fanin_received');
const lost = new Counter('fanin_lost');
const latency = new Trend('fanin_latency', true);

export function setup() {
  return { tag: makeRunTag() };
}

/** @param {{ tag: string }} data */
export function subscriber(data) {
  const client = new Client(clientOptions(`k6fanin-${data.tag}-sub`));
  const seq = new SeqTracker();
  client.on('connect', () => {
    client.subscribe(`${PREFIX}/${data.tag}/+/data`, { qos: QOS });
    setTimeout(() => client.end(), subscriberS * 1000);
  });
  client.on('message', (_topic, payload) => {
    const s = readStamp(payload);
    if (s === null) return;
    const gap = seq.observe(s.publisher, s.seq);
    if (gap < 0) return;
    if (gap > 0) lost.add(gap);
    received.add(1);
    latency.add(Date.now() - s.sentAtMs);
  });
  client.connect(brokerUrl(), { keepalive: 60, clean_session: true });
}

/** @param {{ tag: string }} data */
export function publisher(data) {
  const id = __VU;
  const topic = `${PREFIX}/${data.tag}/p${id}/data`;
  const client = new Client(clientOptions(`k6fanin-${data.tag}-p${id}`));
  let n = 0;
  client.on('connect', () => {
    const t0 = Date.now();
    // Paced by schedule, not by timer count: a late tick publishes what is due, so the rate holds.
    const timer = setInterval(() => {
      const elapsed = Date.now() - t0;
      if (elapsed >= DURATION_S * 1000) {
        clearInterval(timer);
        client.end();
        return;
      }
      const due = Math.floor((elapsed * RATE_PER_PUBLISHER) / 1000);
      while (n < due) {
        client.publish(topic, stampPayload(id, n++, PAYLOAD_BYTES), { qos: QOS });
        sent.add(1);
      }
    }, TICK_MS);
  });
  client.connect(brokerUrl(), { keepalive: 60, clean_session: true });
}
