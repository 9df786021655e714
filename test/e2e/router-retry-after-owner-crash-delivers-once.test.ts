import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decodeStatusSafe } from '../../common/src/envelope/router.js';
import { SessIn, encodeSessionIn } from '../../common/src/envelope/session-in.js';
import { sessionKey } from '../../common/src/shard.js';
import { subjectSpace } from '../../common/src/subjects.js';
import type { Broker } from '../support/broker.js';
import { type ClusterState, shardOfClient, startTwoOwnerCluster } from '../support/cluster-state.js';
import { eventually } from '../support/auth-harness.js';
import { ClientPool, collect, sleep, subscribe, waitFor } from '../support/mqtt-clients.js';

/**
 * A router retries a QoS 1/2 Deliver whose answer it did not get. When the owner wrote the copy
 * and was killed before answering, the retry reaches the next owner of the shard, which loads
 * that copy from the session log and resends it: it must not queue the retry's copy as well
 * (a QoS 2 subscriber would get the message twice, under two packet ids [MQTT-4.3.3]). The test
 * plays the router: it sends the Deliver, kills the owner, sends the same Deliver again.
 */

const SHARDS = 16;
const TTL_MS = 3000;
const subjects = subjectSpace();

let broker: Broker;
let state: ClusterState;
let nc: NatsConnection;
const pool = new ClientPool();

before(async () => {
  ({ broker, state } = await startTwoOwnerCluster({
    env: {
      SHARDMQ_SHARDS: String(SHARDS),
      SHARDMQ_CLUSTER_LEASE_TTL_MS: String(TTL_MS),
      SHARDMQ_CLUSTER_LEASE_RENEW_MS: String(TTL_MS / 3),
      SHARDMQ_CLUSTER_STORAGE: 'memory',
    },
    gateways: 1,
    shards: SHARDS,
  }));
  nc = await connect({ servers: broker.natsUrl!.split(',') });
});

after(async () => {
  await pool.closeAll();
  await nc?.close();
  await state?.close();
  await broker?.stop();
});

/** Sends a Deliver of `payload` for the client's session as a router does, until an owner answers OK. */
async function routerDeliver(clientId: string, payload: string, id: string): Promise<void> {
  const data = encodeSessionIn({
    kind: SessIn.Deliver,
    targets: [{ key: sessionKey('', clientId), qos: 2, retainAsPublished: false, subIds: [] }],
    message: { topic: 'retry/x', payload: Buffer.from(payload), qos: 2, retain: false, origin: '' },
    id,
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await nc.request(subjects.sessionIn(shardOfClient(clientId, SHARDS)), data, { timeout: 2000 }).catch(() => undefined);
    if (answer && decodeStatusSafe(answer.data) === 0) return;
    if (Date.now() > deadline) throw new Error(`no owner accepted Deliver ${id}`);
    await sleep(100);
  }
}

test('a router retry of a Deliver the killed owner had written is not delivered a second time', async () => {
  const clientId = 'retry-sub';
  const opts = { protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 3600 } };
  const first = await pool.connect(broker.url(0), opts);
  await subscribe(first, 'retry/x', { qos: 2 });
  await new Promise<void>((r) => first.end(false, {}, () => r()));
  const owner = (await state.leases()).get(shardOfClient(clientId, SHARDS));
  assert.ok(owner === 'session-1' || owner === 'session-2', `the shard is leased: ${owner}`);
  await eventually('the session stored offline', async () => (await state.session(clientId, SHARDS))?.conn === undefined);

  await routerDeliver(clientId, 'once', 'test-route-1.0');
  const stored = await state.session(clientId, SHARDS);
  assert.deepEqual(
    [...(stored?.queue ?? [])].map((d) => [d.message.payload.toString(), d.from]),
    [['once', 'test-route-1.0']],
    'the copy is stored with the id of the Deliver that brought it',
  );

  // The owner dies; as far as the router knows, its answer was lost: it retries with the same id.
  // startTwoOwnerCluster names the processes of session-1 and session-2 'session' and 'session-2'.
  broker.processes.get(owner === 'session-1' ? 'session' : 'session-2')!.kill('SIGKILL');
  await routerDeliver(clientId, 'once', 'test-route-1.0');
  await routerDeliver(clientId, 'sentinel', 'test-route-2.0');
  const later = await state.session(clientId, SHARDS);
  assert.deepEqual(
    [...(later?.queue ?? [])].map((d) => d.message.payload.toString()),
    ['once', 'sentinel'],
    'the retry was answered without queueing a second copy',
  );

  const again = await pool.connect(broker.url(0), opts);
  const got = collect(again);
  await waitFor(() => got.some((g) => g.payload.toString() === 'sentinel'), 'the sentinel after the queued copy', 30_000);
  assert.deepEqual(
    got.map((g) => g.payload.toString()),
    ['once', 'sentinel'],
    'one copy of the message, then the sentinel',
  );
});
