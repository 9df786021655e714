import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions } from 'mqtt';
import type { Broker } from '../support/broker.js';
import { type ClusterState, startTwoOwnerCluster, waitUntilShardsSpread } from '../support/cluster-state.js';
import { sleep } from '../support/mqtt-clients.js';
import { sessionsThatDidNotComeBack } from '../support/sessions-come-back.js';

/**
 * Leases moving back and forth while sessions are created: each session actor in turn is paused
 * (SIGSTOP) past its lease TTL, so the other takes all its shards over (many shards loaded
 * together), then resumed, so half of them are handed back. Every persistent session whose
 * CONNACK and SUBACK came back must exist afterwards, in the store and served by its owner, with
 * the messages queued for it.
 */

const SESSIONS = Number(process.env.CHURN_SESSIONS ?? 1500);
const SHARDS = Number(process.env.CHURN_SHARDS ?? 256);
const QUEUED = 2;
const CONCURRENCY = 32;
/** Pauses (each of one session actor, past its lease) while sessions are made: both actors at least twice. */
const MIN_PAUSES = 4;
const env = { SHARDMQ_SHARDS: String(SHARDS), SHARDMQ_CLUSTER_LEASE_TTL_MS: '3000', SHARDMQ_CLUSTER_LEASE_RENEW_MS: '1000' };

const sessionOpts = (id: string): IClientOptions => ({ protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 0, connectTimeout: 90_000 });

describe('persistent sessions while shard leases move back and forth', () => {
  let broker: Broker;
  let state: ClusterState;

  before(async () => {
    ({ broker, state } = await startTwoOwnerCluster({ env, gateways: 2, shards: SHARDS }));
  });

  after(async () => {
    for (const n of ['session', 'session-2']) broker?.processes.get(n)?.kill('SIGCONT');
    await state?.close();
    await broker?.stop();
  });

  test('every acknowledged session and its queued messages survive repeated takeovers and handoffs', { timeout: 900_000 }, async () => {
    let creating = true;
    let pauses = 0;
    const churn = (async () => {
      for (let k = 0; creating; k++) {
        const p = broker.processes.get(k % 2 === 0 ? 'session-2' : 'session')!;
        p.kill('SIGSTOP');
        await sleep(4500);
        p.kill('SIGCONT');
        pauses++;
        await sleep(3000);
      }
    })();
    const made: string[] = [];
    const failed: string[] = [];
    const noSuback: string[] = [];
    // At least SESSIONS sessions, and more until the churn has paused each actor at least twice.
    let next = 0;
    const more = () => next < SESSIONS || pauses < MIN_PAUSES;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (more()) {
          const i = next++;
          const id = `lc-${i}`;
          try {
            const c = await mqtt.connectAsync(broker.url(i % 2), sessionOpts(id));
            let timer: NodeJS.Timeout | undefined;
            const acked = await Promise.race([c.subscribeAsync({ 'lc/all': { qos: 1 } }).then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), 60_000)))]).finally(() =>
              clearTimeout(timer),
            );
            if (!acked) noSuback.push(id);
            await c.endAsync(true);
            if (acked) made.push(id);
          } catch (err) {
            failed.push(`${id}: ${(err as Error).message}`);
          }
        }
      }),
    );
    creating = false;
    await churn;
    console.log(`# ${made.length} sessions made (${failed.length} failed: ${failed.slice(0, 3).join('; ')}), ${pauses} pauses`);
    assert.deepEqual(noSuback, [], 'every SUBSCRIBE got its SUBACK on its connection');
    assert.ok(pauses >= MIN_PAUSES && made.length > SESSIONS / 2, 'sessions were made while leases moved');
    await waitUntilShardsSpread(state, ['session-1', 'session-2'], SHARDS, 60_000);
    const pub = await mqtt.connectAsync(broker.url(0), { protocolVersion: 5, clientId: 'lc-pub', connectTimeout: 60_000 });
    for (let i = 0; i < QUEUED; i++) await pub.publishAsync('lc/all', `q${i}`, { qos: 1 });
    await pub.endAsync();

    const stored: string[] = [];
    for (const id of made) if (!(await state.session(id, SHARDS))) stored.push(id);
    const problems = await sessionsThatDidNotComeBack(broker.url(1), made, sessionOpts, QUEUED);
    assert.deepEqual(
      { notStored: stored.slice(0, 10), problems: problems.slice(0, 10) },
      { notStored: [], problems: [] },
      `${stored.length} of ${made.length} not in the store; ${problems.length} came back wrong`,
    );
  });
});
