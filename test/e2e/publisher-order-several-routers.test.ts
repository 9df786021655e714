import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { startBroker, MODES, type Broker } from '../support/broker.js';
import { ClientPool, collect, sleep, subscribe, type Received } from '../support/mqtt-clients.js';

/**
 * [MQTT-4.6.0-6] Messages of one publisher on one topic and QoS reach subscribers in the
 * order they were published, with three routers (cluster mode; one in single mode): each
 * publisher's messages go to one router. Publishers do not wait for PUBACKs (a window of
 * QoS 1 messages in flight, QoS 0 interleaved). Then one router is stopped (SIGTERM) and
 * another killed (SIGKILL) mid-stream: no acknowledged message is lost.
 */

const PUBLISHERS = 6;
const PER_QOS = Number(process.env.ORDER_TEST_MESSAGES ?? 2000);
const WINDOW = 32;

interface Run {
  /** topic -> sequence numbers acknowledged (QoS 1) */
  acked: Map<string, Set<number>>;
  refused: number;
}

/** Each publisher sends PER_QOS messages at QoS 0 and at QoS 1, interleaved, QoS 1 in a window. */
async function publishAll(pubs: MqttClient[], phase: string, midway?: () => void): Promise<Run> {
  const run: Run = { acked: new Map(), refused: 0 };
  let halfway = 0;
  // A publisher whose connection closes never hears its PUBACKs: fail instead of waiting forever.
  let onClose: (() => void) | undefined;
  const closed = new Promise<never>((_, reject) => {
    onClose = () => reject(new Error(`a publisher's connection closed during the ${phase} phase`));
    for (const pub of pubs) pub.once('close', onClose);
  });
  const sending = Promise.all(
    pubs.map(async (pub, p) => {
      const t1 = `order/${phase}/${p}/1`;
      const acked = new Set<number>();
      run.acked.set(t1, acked);
      const inflight = new Set<Promise<void>>();
      for (let i = 0; i < PER_QOS; i++) {
        if (i === PER_QOS / 2 && ++halfway === pubs.length) midway?.();
        pub.publish(`order/${phase}/${p}/0`, String(i), { qos: 0 });
        const ack = new Promise<void>((resolve) =>
          pub.publish(t1, String(i), { qos: 1 }, (err) => {
            if (err) run.refused++;
            else acked.add(i);
            resolve();
          }),
        );
        inflight.add(ack);
        void ack.then(() => inflight.delete(ack));
        if (inflight.size >= WINDOW) await Promise.race(inflight);
      }
      await Promise.all(inflight);
    }),
  );
  try {
    await Promise.race([sending, closed]);
  } finally {
    for (const pub of pubs) pub.off('close', onClose!);
  }
  return run;
}

/** Per topic: first copies that arrived after a higher number of the same topic (duplicates excluded). */
function inversions(got: Received[], phase: string): Map<string, number> {
  const max = new Map<string, number>();
  const seen = new Map<string, Set<number>>();
  const out = new Map<string, number>();
  for (const g of got) {
    if (!g.topic.startsWith(`order/${phase}/`)) continue;
    const n = Number(g.payload.toString());
    let s = seen.get(g.topic);
    if (!s) seen.set(g.topic, (s = new Set()));
    if (s.has(n)) continue;
    s.add(n);
    if (n < (max.get(g.topic) ?? -1)) out.set(g.topic, (out.get(g.topic) ?? 0) + 1);
    else max.set(g.topic, n);
  }
  return out;
}

async function allAckedArrived(run: Run, got: Received[], who: string): Promise<void> {
  const missing = () => {
    const present = new Map<string, Set<number>>();
    for (const g of got) {
      if (!run.acked.has(g.topic)) continue;
      let s = present.get(g.topic);
      if (!s) present.set(g.topic, (s = new Set()));
      s.add(Number(g.payload.toString()));
    }
    const out: string[] = [];
    for (const [topic, acked] of run.acked) for (const n of acked) if (!present.get(topic)?.has(n)) out.push(`${topic}#${n}`);
    return out;
  };
  // Polled slowly: each look scans every message received.
  let lost = missing();
  for (const deadline = Date.now() + 60_000; lost.length > 0 && Date.now() < deadline; lost = missing()) await sleep(250);
  assert.deepEqual(lost.slice(0, 20), [], `${who} lost ${lost.length} acknowledged messages`);
}

for (const mode of MODES) {
  describe(`publisher order with ${mode === 'cluster' ? 'three routers' : 'one router'} (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    const pubs: MqttClient[] = [];
    const subs: Received[][] = [];

    before(async () => {
      // Subscribers receive every stream at once: their queues must not overflow (a limit, not a
      // loss). A long lease keeps a loaded machine's slow renewals from moving shards mid-test.
      const env = {
        SHARDMQ_SHARDS: '128',
        SHARDMQ_CLUSTER_LEASE_TTL_MS: '10000',
        SHARDMQ_ROUTER_HEARTBEAT_MS: '500',
        SHARDMQ_SESSION_MAX_QUEUED_MESSAGES: '1000000',
        SHARDMQ_SESSION_MAX_INFLIGHT: '1000',
      };
      broker = await startBroker(mode, { env });
      if (mode === 'cluster') {
        await broker.spawnRole('router', 'router-2');
        await broker.spawnRole('router', 'router-3');
        // Every gateway knows all three routers before the first message.
        for (const g of ['gateway-1', 'gateway-2']) await broker.processes.get(g)!.waitForLine(/"msg":"routers changed".*"routers":3/, 20_000);
      }
      for (let g = 0; g < broker.ports.length; g++) {
        const sub = await pool.connect(broker.url(g), { clientId: `order-sub-${g}`, clean: true });
        subs.push(collect(sub));
        await subscribe(sub, 'order/#', { qos: 1 });
      }
      for (let p = 0; p < PUBLISHERS; p++) pubs.push(await pool.connect(broker.url(p), { protocolVersion: 5, clientId: `order-pub-${p}`, clean: true }));
    });

    after(async () => {
      await pool.closeAll();
      await broker?.stop();
    });

    test("each publisher's QoS 0 and QoS 1 messages arrive in order, none acknowledged is lost", async () => {
      const run = await publishAll(pubs, 'steady');
      assert.equal(run.refused, 0);
      for (const [g, got] of subs.entries()) {
        await allAckedArrived(run, got, `subscriber ${g}`);
        const inv = inversions(got, 'steady');
        const qos0 = got.filter((r) => r.topic.startsWith('order/steady/') && r.topic.endsWith('/0')).length;
        console.log(`# ${mode} subscriber ${g}: ${got.length} messages (${qos0} of ${PUBLISHERS * PER_QOS} QoS 0), out of order: ${JSON.stringify([...inv])}`);
        assert.deepEqual([...inv], [], 'no message of a publisher overtook an earlier one');
      }
    });

    if (mode === 'cluster') {
      for (const [victim, signal] of [
        ['router-2', 'SIGTERM'],
        ['router-3', 'SIGKILL'],
      ] as const) {
        test(`a router ended by ${signal} mid-stream: nothing acknowledged is lost`, async () => {
          const phase = signal.toLowerCase();
          const proc = broker.processes.get(victim)!;
          const run = await publishAll(pubs, phase, () => proc.kill(signal));
          await proc.exited;
          for (const [g, got] of subs.entries()) {
            await allAckedArrived(run, got, `subscriber ${g}`);
            const inv = inversions(got, phase);
            const acked = [...run.acked.values()].reduce((a, s) => a + s.size, 0);
            console.log(
              `# ${signal} of a router: subscriber ${g} got ${got.filter((r) => r.topic.startsWith(`order/${phase}/`)).length} messages; QoS 1 acknowledged ${acked}, refused ${run.refused}; first copies out of order per topic: ${JSON.stringify([...inv])}`,
            );
          }
        });
      }
    }
  });
}
