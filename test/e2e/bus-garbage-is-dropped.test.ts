import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import fc from 'fast-check';
import { subjectSpace } from '../../common/src/subjects.js';
import { adminSubjects } from '../../common/src/admin/admin-subjects.js';
import { startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, publish, subscribe, waitFor } from '../support/mqtt-clients.js';
import { eventually } from '../support/auth-harness.js';
import * as arb from '../support/envelope-arbitraries.js';
import { encodeSessionIn } from '../../common/src/envelope/session-in.js';
import { decodeStatusSafe } from '../../common/src/envelope/router.js';

/**
 * A hostile (or broken) NATS client publishes garbage on every shardmq subject of a running
 * cluster: random bytes and truncated valid envelopes, as plain messages and as requests.
 * Every process keeps running, requests that have an error answer get it, the garbage is counted
 * in shardmq_bus_malformed_envelopes_total, and MQTT clients still publish and receive at QoS 1.
 * Cluster mode only: in single mode the bus is in-process and no outside client can reach it.
 */

let broker: Broker;
let nc: NatsConnection;
const pool = new ClientPool();
const subjects = subjectSpace();
const admin = adminSubjects();

before(async () => {
  broker = await startBroker('cluster', { gateways: 1, env: { SHARDMQ_SHARDS: '16' } });
  nc = await connect({ servers: broker.nats!.url });
});

after(async () => {
  await pool.closeAll();
  await nc?.close();
  await broker?.stop();
});

async function metricsOf(name: string): Promise<string> {
  const port = /"msg":"ready".*"httpPort":(\d+)/.exec(broker.processes.get(name)!.output())?.[1];
  assert.ok(port, `${name} logged its HTTP port`);
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

function counterSum(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) total += Number(line.split(' ').pop());
  return total;
}

test('garbage on every bus subject is dropped and counted; the cluster keeps serving MQTT', async () => {
  const gw = /"gateway":"([A-Za-z0-9_-]+)"/.exec(broker.processes.get('gateway-1')!.output())?.[1];
  assert.ok(gw, 'gateway id in the log');
  const targets = [
    ...Array.from({ length: 16 }, (_, i) => subjects.sessionIn(i)),
    subjects.gatewayOut(gw),
    subjects.gatewayHeartbeat,
    subjects.routePublish,
    subjects.routeSubscription,
    subjects.routeRetained,
    subjects.authConnect,
    ...Array.from({ length: 16 }, (_, i) => admin.session(i)),
    admin.gateway(gw),
    admin.nodes,
  ];
  const garbage = fc.sample(
    fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 64 }),
      arb.sessionIn.map((e) => {
        const b = encodeSessionIn(e);
        return b.subarray(0, Math.max(1, b.length - 3));
      }),
    ),
    { numRuns: 40, seed: 42 },
  );
  for (const s of targets) for (const g of garbage) nc.publish(s, g);
  await nc.flush();

  // Requests with an error answer are answered (not left to time out).
  const sess = await nc.request(subjects.sessionIn(3), Uint8Array.from([0xee]), { timeout: 20_000 });
  assert.equal(decodeStatusSafe(sess.data), 0x80, 'a shard inbox answers a refusal');
  const route = await nc.request(subjects.routePublish, Uint8Array.from([0xee]), { timeout: 20_000 });
  assert.equal(route.data[0], 0x80, 'the router answers ROUTE_FAILED');
  const auth = await nc.request(subjects.authConnect, Uint8Array.from([0xee]), { timeout: 20_000 });
  assert.match(new TextDecoder().decode(auth.data), /"result":"not-authorized"/);

  await eventually('the session actor counted malformed envelopes', async () => counterSum(await metricsOf('session'), 'shardmq_bus_malformed_envelopes_total') > 0);
  await eventually('the router counted malformed envelopes', async () => counterSum(await metricsOf('router'), 'shardmq_bus_malformed_envelopes_total') > 0);
  await eventually('the gateway counted malformed envelopes', async () => counterSum(await metricsOf('gateway-1'), 'shardmq_bus_malformed_envelopes_total') > 0);

  // Every process is still up, and MQTT still works end to end at QoS 1.
  const sub = await pool.connect(broker.url(), { clientId: 'after-garbage-sub', protocolVersion: 5 });
  const pub = await pool.connect(broker.url(), { clientId: 'after-garbage-pub', protocolVersion: 5 });
  const got = collect(sub);
  await subscribe(sub, 'still/works', { qos: 1 });
  await publish(pub, 'still/works', 'yes', { qos: 1 });
  await waitFor(() => got.some((m) => m.payload.toString() === 'yes'), 'the message after the garbage', 20_000);
  for (const [name, p] of broker.processes) {
    // Garbage is refused by the decoders; nothing that got past them crashed a handler later.
    assert.doesNotMatch(p.output(), /bus handler threw|session turn failed|uncaught exception|unhandled promise rejection/, name);
    const state = await Promise.race([p.exited.then(() => 'exited'), new Promise<string>((r) => setImmediate(() => r('running')))]);
    assert.equal(state, 'running', `${name} is still running`);
  }
});
