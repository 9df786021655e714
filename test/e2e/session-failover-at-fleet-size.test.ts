import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions } from 'mqtt';
import type { Broker } from '../support/broker.js';
import { counterValue, httpPortOf, scrape } from '../support/broker-metrics.js';
import { type ClusterState, shardOfClient, startTwoOwnerCluster } from '../support/cluster-state.js';
import { ClientPool, sleep } from '../support/mqtt-clients.js';
import { eachLimited, sessionsThatDidNotComeBack } from '../support/sessions-come-back.js';

/**
 * Failover at fleet size, default lease settings: persistent sessions (a subscription and a few
 * queued messages each) spread over two session actors; kill -9 one. Measured: how long until
 * the survivor serves every shard of the dead actor (each loaded from the session log). Checked:
 * the dead actor's sessions come back with Session Present 1 and their queued messages, in order.
 * CI runs 2,000 sessions; the fleet-size run (issue figure, docs/sharding.md):
 * FAILOVER_FLEET_SESSIONS=20000 npm test -- session-failover-at-fleet-size
 */

const SESSIONS = Number(process.env.FAILOVER_FLEET_SESSIONS ?? 2000);
const QUEUED = 3;
/** Dead actor's sessions reconnected to check their state (all of them in CI-sized runs). */
const CHECKED = Number(process.env.FAILOVER_FLEET_CHECKED ?? 400);
const SHARDS = 1024;
const CONCURRENCY = 64;

const sessionOpts = (id: string): IClientOptions => ({ protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 0, connectTimeout: 60_000 });

/** Runs fn over items, `n` at a time. */
describe(`session actor failover with ${SESSIONS} persistent sessions`, () => {
  let broker: Broker;
  let state: ClusterState;
  const pool = new ClientPool();

  before(async () => {
    ({ broker, state } = await startTwoOwnerCluster({ env: { SHARDMQ_SHARDS: String(SHARDS) }, gateways: 2, shards: SHARDS }));
  });

  after(async () => {
    await pool.closeAll();
    await state?.close();
    await broker?.stop();
  });

  test('the survivor serves every session of the killed actor again, with its queued messages', { timeout: 600_000 }, async () => {
    const ids = Array.from({ length: SESSIONS }, (_, i) => `ff-${i}`);
    let created = 0;
    await eachLimited(ids, CONCURRENCY, async (id) => {
      const c = await mqtt.connectAsync(broker.url(created % 2), sessionOpts(id));
      await c.subscribeAsync({ 'ff/all': { qos: 1 }, [`ff/dev/${id}`]: { qos: 1 } });
      await c.endAsync();
      created++;
    });
    // A few messages queued in every (offline) session.
    const pub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: 'ff-pub' });
    for (let i = 0; i < QUEUED; i++) await pub.publishAsync('ff/all', `q${i}`, { qos: 1 });

    const leases = await state.leases();
    const victim = new Set([...leases].filter(([, o]) => o === 'session-2').map(([s]) => s));
    const onVictim = ids.filter((id) => victim.has(shardOfClient(id, SHARDS)));
    assert.ok(victim.size > 0 && onVictim.length > 0, 'the actor to kill serves sessions');
    const survivorPort = httpPortOf(broker, 'session');
    const loads = async () => counterValue(await scrape(survivorPort), 'shardmq_session_shard_load_seconds_count');
    const loadsBefore = await loads();
    const entriesBefore = counterValue(await scrape(survivorPort), 'shardmq_session_log_entries_read_total');

    const killedAt = Date.now();
    broker.processes.get('session-2')!.kill('SIGKILL');
    // Served again: the survivor has loaded every shard the dead actor held.
    while ((await loads()) - loadsBefore < victim.size) {
      assert.ok(Date.now() - killedAt < 120_000, `the survivor loads the ${victim.size} shards of the killed actor`);
      await sleep(25);
    }
    const servedMs = Date.now() - killedAt;
    const after = await scrape(survivorPort);
    const sessionsLoaded = counterValue(after, 'shardmq_session_sessions_loaded_total');
    const entriesRead = counterValue(after, 'shardmq_session_log_entries_read_total') - entriesBefore;
    const claimed = await broker.processes
      .get('session')!
      .waitForLine(/"msg":"shards claimed"/, 1000)
      .catch(() => '');
    const claimedAt = Date.parse(/"t":"([^"]+)"/.exec(claimed)?.[1] ?? '');
    if (claimedAt) console.log(`# the survivor had claimed (and loaded) them ${claimedAt - killedAt} ms after the kill`);
    const reads = broker.processes
      .get('session')!
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"session logs read"') && Date.parse(/"t":"([^"]+)"/.exec(l)?.[1] ?? '') >= killedAt);
    for (const l of reads)
      console.log(`# survivor: ${/"shards":\d+,"ms":\d+[^}]*/.exec(l)?.[0] ?? l} (session logs read at once, ending ${Date.parse(/"t":"([^"]+)"/.exec(l)?.[1] ?? '') - killedAt} ms after the kill)`);
    console.log(
      `# ${SESSIONS} persistent sessions (${QUEUED} queued messages each), ${SHARDS} shards over 2 session actors: kill -9 of one (${victim.size} shards, ${onVictim.length} sessions); the survivor served all of them again ${servedMs} ms after the kill (lease TTL and renewal at their defaults); survivor loaded ${sessionsLoaded} sessions in all, reading ${entriesRead} log entries for the takeover`,
    );

    // Their state survived: Session Present 1 and the queued messages, in order.
    const sample = onVictim.filter((_, i) => i % Math.max(1, Math.floor(onVictim.length / CHECKED)) === 0).slice(0, CHECKED);
    const problems = await sessionsThatDidNotComeBack(broker.url(1), sample, sessionOpts, QUEUED);
    assert.deepEqual(problems.slice(0, 10), [], `${problems.length} of ${sample.length} sessions of the killed actor came back wrong`);
    assert.equal(problems.length, 0);
  });
});
