import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Broker } from '../support/broker.js';
import { type ClusterState, startTwoOwnerCluster, waitUntilShardsSpread } from '../support/cluster-state.js';
import { counterValue, httpPortOf, scrape } from '../support/broker-metrics.js';
import { ClientPool, collect, sleep, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';
import { Qos1Stream } from '../support/qos1-stream.js';

/**
 * Production runs a 3-node NATS cluster with every bucket at 3 replicas. kill -9 of one NATS
 * node (the JetStream meta leader) under a steady QoS 1 load must be a pause of seconds: the
 * publishes keep getting PUBACKs while the node stays down, no acknowledged message is lost,
 * and the session actors keep their shard leases (no mass expiry and reload). The node then
 * comes back and rejoins.
 */

const SHARDS = Number(process.env.NATS_KILL_TEST_SHARDS ?? 1024);
const SUBSCRIBERS = 10;
const DOWN_MS = Number(process.env.NATS_KILL_TEST_DOWN_MS ?? 20_000);
// A lease must outlive a JetStream leader election (a few seconds in nats-server 2.9) plus a
// renewal period, or a stream that loses its leader lets every lease expire (docs/sharding.md).
const TTL_MS = Number(process.env.NATS_KILL_TEST_LEASE_TTL_MS ?? 10_000);
const clusterEnv = {
  SHARDMQ_SHARDS: String(SHARDS),
  SHARDMQ_CLUSTER_LEASE_TTL_MS: String(TTL_MS),
  SHARDMQ_CLUSTER_LEASE_RENEW_MS: String(Math.floor(TTL_MS / 5)),
  SHARDMQ_GATEWAY_HEARTBEAT_MS: '1000',
};

/** The longest time the set of acknowledged numbers did not grow, sampled every 50 ms. */
function watchProgress(streams: Qos1Stream[]): { stop(): number } {
  const total = () => streams.reduce((n, s) => n + s.acked.size, 0);
  let last = total();
  let since = Date.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    const t = total();
    if (t !== last) {
      longest = Math.max(longest, now - since);
      last = t;
      since = now;
    }
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(longest, Date.now() - since);
    },
  };
}

describe('kill -9 of a NATS node (3-node cluster, buckets at 3 replicas)', () => {
  let broker: Broker;
  let state: ClusterState;
  const pool = new ClientPool();

  before(async () => {
    ({ broker, state } = await startTwoOwnerCluster({ env: clusterEnv, gateways: 2, shards: SHARDS, natsNodes: 3 }));
  });

  after(async () => {
    await pool.closeAll();
    await state?.close();
    await broker?.stop();
  });

  // Not todo any more (docs/sharding.md, "A NATS cluster"): the loss it was marked todo for was this
  // test's own late listener. Two rarer failures seen since are open there; if they come back, this
  // fails the suite with what was missing. Bounded below the runner's per-file timeout.
  test('the service pauses for seconds, keeps acknowledging, loses nothing acknowledged and keeps its leases', { timeout: 200_000 }, async () => {
    const nats = broker.natsCluster!;
    const metricsPorts = ['session', 'session-2'].map((n) => httpPortOf(broker, n));
    const leaseCounters = async () => {
      let lost = 0;
      let takeovers = 0;
      for (const port of metricsPorts) {
        const text = await scrape(port);
        lost += counterValue(text, 'shardmq_session_shard_leases_lost_total', '');
        takeovers += counterValue(text, 'shardmq_session_shard_takeovers_total', '');
      }
      return { lost, takeovers };
    };

    const subs: Array<{ id: string; got: Received[] }> = [];
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const id = `nk-sub-${i}`;
      const client = await pool.connect(broker.url(i % 2), { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 3600 } });
      const got = collect(client);
      await subscribe(client, 'nk/#', { qos: 1 });
      subs.push({ id, got });
    }
    const streams: Qos1Stream[] = [];
    for (const g of [0, 1]) {
      const pub = await pool.connect(broker.url(g), { protocolVersion: 5, clientId: `nk-pub-${g}` });
      streams.push(new Qos1Stream(pub, `nk/${g}`, { everyMs: 40, maxInflight: 8 }));
    }
    await waitFor(() => streams.every((s) => s.acked.size > 20), 'the streams to flow', 30_000);
    const before = await leaseCounters();

    const leader = await nats.metaLeader();
    assert.ok(leader >= 0, 'the NATS cluster has a JetStream meta leader');
    const victim = nats.nodes[leader]!;
    const progress = watchProgress(streams);
    const ackedAtKill = streams.map((s) => s.acked.size);
    victim.kill('SIGKILL');
    await victim.exited();
    const killedAt = Date.now();
    // Service continues while the node is down: publishes keep getting PUBACKs.
    await waitFor(() => streams.every((s, i) => s.acked.size > ackedAtKill[i]! + 10), 'PUBACKs while the NATS node is down', DOWN_MS);
    const resumedMs = Date.now() - killedAt;
    const left = DOWN_MS - (Date.now() - killedAt);
    if (left > 0) await sleep(left);
    const ackedWhileDown = streams.map((s, i) => s.acked.size - ackedAtKill[i]!);
    const longestPauseMs = progress.stop();
    const during = await leaseCounters();
    await victim.restart();
    const leaderAfter = await nats.metaLeader();
    await sleep(5000);
    for (const s of streams) await s.stop();
    // Owner -> gateway deliveries are core NATS messages: one in flight through the dead node is
    // gone, while the session keeps it in flight; MQTT sends it again when the device
    // reconnects [MQTT-4.4.0-1]. Count what is missing on the old connections, then reconnect.
    const missing = (s: { got: Received[] }) =>
      streams.reduce((n, st, g) => n + [...st.acked].filter((k) => !s.got.some((r) => r.topic === `nk/${g}` && r.payload.toString() === String(k))).length, 0);
    await waitFor(() => subs.every((s) => missing(s) === 0), 'every acknowledged message on the first connections', 15_000).catch(() => {});
    const missingBeforeReconnect = subs.map((s) => missing(s));
    // Collect from the first packet: the resends follow the CONNACK in the same read, before
    // `await connect()` returns (a listener attached after it missed them: the "loss" seen in
    // 3 of 4 runs was the test's, not the broker's).
    for (const [i, s] of subs.entries()) {
      await pool.connect(broker.url(i % 2), { protocolVersion: 5, clientId: s.id, clean: false, properties: { sessionExpiryInterval: 3600 } }, s.got);
    }
    const problems: string[] = [];
    const verifyUntil = Date.now() + 60_000;
    for (const s of subs) {
      for (const [g, stream] of streams.entries()) {
        // One deadline for all checks: a run that lost messages fails with their count, not at the test timeout.
        await stream
          .verify(
            `${s.id} (stream ${g})`,
            s.got.filter((r) => r.topic === `nk/${g}`),
            Math.max(1000, verifyUntil - Date.now()),
          )
          .catch((err: Error) => problems.push(err.message));
      }
    }
    const end = await leaseCounters();
    const sent = streams.reduce((n, s) => n + s.sent, 0);
    const acked = streams.reduce((n, s) => n + s.acked.size, 0);
    const refused = streams.reduce((n, s) => n + s.refused.size, 0);
    console.log(
      `# NATS node ${victim.name} (meta leader) killed for ${DOWN_MS} ms (${SHARDS} shards, lease TTL ${TTL_MS} ms): PUBACKs again after ${resumedMs} ms, longest pause without any PUBACK ${longestPauseMs} ms; ` +
        `acknowledged while down ${ackedWhileDown.join('+')}; published ${sent}, acknowledged ${acked}, refused ${refused}; ` +
        `acknowledged but not yet received per subscriber before it reconnected: ${missingBeforeReconnect.join(',')}; ` +
        `leases lost ${during.lost - before.lost} while down, ${end.lost - before.lost} in all; takeovers ${end.takeovers - before.takeovers}; meta leader after restart: n${leaderAfter + 1}`,
    );
    assert.deepEqual(problems, [], 'every acknowledged message reached every subscriber, a second copy only with DUP');
    assert.equal(end.lost - before.lost, 0, 'no shard lease was lost (no mass expiry, no reload)');
    // Every shard still leased by the two session actors. Polled: a key listing right after the
    // restart can be served while the restarted node catches up (seen: 985 of 1024 keys listed
    // while neither actor had lost a lease).
    await waitUntilShardsSpread(state, ['session-1', 'session-2'], SHARDS, 20_000);
  });
});
