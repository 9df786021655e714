import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Broker } from '../support/broker.js';
import { type ClusterState, shardOfClient, startTwoOwnerCluster } from '../support/cluster-state.js';
import { ClientPool, collect, publish, sleep, waitFor } from '../support/mqtt-clients.js';

/**
 * A SUBSCRIBE's SUBACK comes after the routers acknowledged the new subscription. The owner is
 * paused past its lease after it wrote the SUBSCRIBE and before the routers answered (the router
 * is paused meanwhile), so the other session actor takes its shard over and the paused owner may
 * never send that SUBACK. The client must still get its SUBACK (from the new owner, the gateway
 * sending the SUBSCRIBE again) on the connection it has, and the subscription must work.
 * Cluster only: it needs two session actors and a router as processes.
 */

const SHARDS = 64;
const env = { SHARDMQ_SHARDS: String(SHARDS), SHARDMQ_CLUSTER_LEASE_TTL_MS: '3000', SHARDMQ_CLUSTER_LEASE_RENEW_MS: '1000' };

describe('owner lost between a SUBSCRIBE and its SUBACK', () => {
  let broker: Broker;
  let state: ClusterState;
  const pool = new ClientPool();

  before(async () => {
    ({ broker, state } = await startTwoOwnerCluster({ env, gateways: 1, shards: SHARDS }));
  });

  after(async () => {
    for (const n of ['router', 'session-2']) broker?.processes.get(n)?.kill('SIGCONT');
    await pool.closeAll();
    await state?.close();
    await broker?.stop();
  });

  test('the client gets its SUBACK from the next owner and the subscription works', { timeout: 120_000 }, async () => {
    const leases = await state.leases();
    let id = '';
    for (let i = 0; !id; i++) if (leases.get(shardOfClient(`mid-sub-${i}`, SHARDS)) === 'session-2') id = `mid-sub-${i}`;
    const shard = shardOfClient(id, SHARDS);
    const sub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 600 } });
    const got = collect(sub);

    const router = broker.processes.get('router')!;
    const owner = broker.processes.get('session-2')!;
    router.kill('SIGSTOP');
    let suback: number[] | undefined;
    let subackError: Error | undefined;
    sub.subscribe('mid/a', { qos: 1 }, (err, granted) => {
      if (err) subackError = err;
      else suback = (granted ?? []).map((g) => g.qos);
    });
    // The owner wrote the SUBSCRIBE (it is in the store) and now waits for the paused router.
    const written = Date.now() + 20_000;
    while (!(await state.session(id, SHARDS))?.subs.has('mid/a')) {
      assert.ok(Date.now() < written, 'the owner wrote the SUBSCRIBE');
      await sleep(50);
    }
    owner.kill('SIGSTOP');
    const taken = Date.now() + 30_000;
    while ((await state.leases()).get(shard) !== 'session-1') {
      assert.ok(Date.now() < taken, 'session-1 took the shard over');
      await sleep(100);
    }
    router.kill('SIGCONT');
    await waitFor(() => suback !== undefined || subackError !== undefined, 'a SUBACK for the SUBSCRIBE', 60_000);
    assert.equal(subackError, undefined);
    assert.deepEqual(suback, [1], 'granted QoS 1');
    owner.kill('SIGCONT');

    const pub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: 'mid-pub' });
    await publish(pub, 'mid/a', 'after', { qos: 1 });
    await waitFor(() => got.some((g) => g.payload.toString() === 'after'), 'a delivery on the new subscription', 30_000);
  });
});
