// @ts-check
/**
 * Steady fleet (k6 + grafana/xk6-mqtt, MQTT 3.1.1): DEVICES connections (one VU each, started at
 * CONNECT_RATE per second) each publish one telemetry message every INTERVAL_S seconds, spread evenly
 * over the interval, to fleet/<run>/<device>/telemetry for DURATION_S seconds; one backend VU
 * subscribes to fleet/<run>/+/telemetry and measures delivery latency and loss.
 *
 *   k6 run -e MQTT_URL=mqtt://127.0.0.1:1883 -e DEVICES=5000 -e INTERVAL_S=5 -e DURATION_S=120 loadtest/k6/fleet.js
 *
 * Metrics: fleet_sent, fleet_received, fleet_lost (gaps seen by the backend), fleet_duplicates,
 * fleet_latency (publish -> backend). Loss at the end of the run also shows as fleet_sent - fleet_received.
 */
import { Counter, Trend } from 'k6/metrics';
import { clearInterval, setInterval, setTimeout } from 'k6/timers';
import { Client } from 'k6/x/mqtt';
import { SeqTracker, brokerUrl, clientOptions, envNumber, envQos, envString, makeRunTag, readStamp, stampPayload } from './lib/common.js';

const DEVICES = envNumber('DEVICES', 1000, 1);
const INTERVAL_S = envNumber('INTERVAL_S', 5, 0.01);
const DURATION_S = envNumber('DURATION_S', 60, 1);
const CONNECT_RATE = envNumber('CONNECT_RATE', 500, 1);
const QOS = envQos('QOS', 1);
const PAYLOAD_BYTES = envNumber('PAYLOAD_BYTES', 128, 1);
const PREFIX = envString('TOPIC_PREFIX', 'fleet');

const rampS = Math.ceil(DEVICES / CONNECT_RATE);
const devicesStartS = 2; // the backend subscribes first
const backendS = devicesStartS + rampS + DURATION_S + INTERVAL_S + 5;

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    backend: { executor: 'per-vu-iterations', vus: 1, iterations: 1, exec: 'backend', maxDuration: `${backendS + 30}s` },
    devices: {
      executor: 'per-vu-iterations',
      vus: DEVICES,
      iterations: 1,
      exec: 'device',
      startTime: `${devicesStartS}s`,
      maxDuration: `${rampS + DURATION_S + 60}s`,
    },
  },
  thresholds: QOS > 0 ? { fleet_lost: ['count==0'] } : {},
};

const sent = new Counter('fleet_sent');
const received = new Counter('fleet_received');
const lost = new Counter('fleet_lost');
const duplicates = new Counter('fleet_duplicates');
const latency = new Trend('fleet_latency', true);

export function setup() {
  return { tag: makeRunTag() };
}

/** @param {{ tag: string }} data */
export function backend(data) {
  const client = new Client(clientOptions(`k6fleet-${data.tag}-backend`));
  const seq = new SeqTracker();
  client.on('connect', () => {
    client.subscribe(`${PREFIX}/${data.tag}/+/telemetry`, { qos: QOS });
    setTimeout(() => client.end(), backendS * 1000);
  });
  client.on('message', (_topic, payload) => {
    const s = readStamp(payload);
    if (s === null) return;
    const gap = seq.observe(s.publisher, s.seq);
    if (gap < 0) {
      duplicates.add(1);
      return;
    }
    if (gap > 0) lost.add(gap);
    received.add(1);
    latency.add(Date.now() - s.sentAtMs);
  });
  client.connect(brokerUrl(), { keepalive: 60, clean_session: true });
}

/** @param {{ tag: string }} data */
export function device(data) {
  const id = __VU; // unique across the test; the backend VU takes one number too
  const topic = `${PREFIX}/${data.tag}/d${id}/telemetry`;
  const connectDelayMs = ((id % DEVICES) / CONNECT_RATE) * 1000;
  const phaseMs = ((id % DEVICES) / DEVICES) * INTERVAL_S * 1000;
  setTimeout(() => {
    const client = new Client(clientOptions(`k6fleet-${data.tag}-d${id}`));
    let n = 0;
    client.on('connect', () => {
      const stopAt = Date.now() + DURATION_S * 1000;
      setTimeout(() => {
        const publish = () => {
          client.publish(topic, stampPayload(id, n++, PAYLOAD_BYTES), { qos: QOS });
          sent.add(1);
        };
        publish();
        const timer = setInterval(() => {
          if (Date.now() >= stopAt) {
            clearInterval(timer);
            client.end();
            return;
          }
          publish();
        }, INTERVAL_S * 1000);
      }, phaseMs);
    });
    client.connect(brokerUrl(), { keepalive: 60, clean_session: true });
  }, connectDelayMs);
}
