import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Broker } from '../support/broker.js';
import { type ClusterState, startTwoOwnerCluster, waitUntilShardsSpread } from '../support/cluster-state.js';
import { connectRoaming, sleep, subscribe, waitFor } from '../support/mqtt-clients.js';
import type { ManagedProcess } from '../support/processes.js';

/**
 * Issue 15: a Kubernetes-style rolling restart of every tier under a steady QoS 1 load.
 * Two processes of each tier; each one in turn gets SIGTERM, must exit 0 by itself (its
 * graceful stop finished before node.stopTimeoutMs), and is replaced before the next one
 * goes (a replacement gateway binds the same port, as behind a Service). Clients (MQTT 5
 * and 3.1.1, persistent sessions, Wills with a delay: Will Delay for 5.0,
 * session.v3WillDelayS for 3.1.1) reconnect to the other gateway when theirs drains.
 * Afterwards: every acknowledged message reached every subscriber (and the $share group),
 * no copy arrived twice without DUP unless the publisher itself sent it twice, no Will was
 * published (everyone came back within the delay), and no session actor lost a lease
 * (shards moved by handoff, not by expiry).
 */

const SHARDS = 32;
const WILL_DELAY_S = 15;
const PUBLISH_EVERY_MS = 50;
const env = {
  SHARDMQ_SHARDS: String(SHARDS),
  SHARDMQ_CLUSTER_STORAGE: 'memory',
  SHARDMQ_GATEWAY_DRAIN_RATE_PER_S: '50',
  SHARDMQ_SESSION_V3_WILL_DELAY_S: String(WILL_DELAY_S),
  SHARDMQ_NODE_STOP_TIMEOUT_MS: '20000',
};
const LEASE_TROUBLE = /shard lease lost|lease no longer valid|another owner wrote this shard|shard abandoned/;

type Role = 'gateway' | 'session' | 'router' | 'auth';

interface Peer {
  id: string;
  client: MqttClient;
  connects: number;
}

interface Publisher extends Peer {
  seq: number;
  acked: number[];
  /** Publishes answered with an error reason code (not acknowledged: may be lost). */
  failed: number;
  /** seq -> PUBLISH packets the client library sent for it (a re-send after reconnect counts). */
  sent: Map<number, number>;
}

interface Receipt {
  count: number;
  withoutDup: number;
}

interface Subscriber extends Peer {
  got: Map<string, Receipt>;
}

describe('rolling restart of every tier under load', () => {
  let broker: Broker;
  let state: ClusterState;
  const clients: MqttClient[] = [];
  /** Every process that ever ran a session actor (the stopped ones keep their output). */
  const sessionProcs: ManagedProcess[] = [];

  before(async () => {
    ({ broker, state } = await startTwoOwnerCluster({ env, gateways: 2, shards: SHARDS }));
    await broker.spawnRole('router', 'router-2');
    await broker.spawnRole('auth', 'auth-2');
    sessionProcs.push(broker.processes.get('session')!, broker.processes.get('session-2')!);
  });

  after(async () => {
    await Promise.all(clients.map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
    await state?.close();
    await broker?.stop();
  });

  function peer(id: string, first: number, opts: IClientOptions): Peer {
    const client = connectRoaming(broker.ports.slice(0, 2), first, { clientId: id, clean: false, ...opts });
    clients.push(client);
    const p: Peer = { id, client, connects: 0 };
    client.on('connect', () => p.connects++);
    client.on('error', () => {});
    return p;
  }

  function options(v: 4 | 5, will: boolean, id: string): IClientOptions {
    const base: IClientOptions = v === 5 ? { protocolVersion: 5, properties: { sessionExpiryInterval: 600 } } : { protocolVersion: 4 };
    if (!will) return base;
    const props = v === 5 ? { properties: { willDelayInterval: WILL_DELAY_S } } : {};
    return { ...base, will: { topic: `will/${id}`, payload: Buffer.from('gone'), qos: 1, retain: false, ...props } };
  }

  function subscriber(id: string, v: 4 | 5, first: number): Subscriber {
    const s: Subscriber = Object.assign(peer(id, first, options(v, true, id)), { got: new Map<string, Receipt>() });
    s.client.on('message', (_topic, payload, packet) => {
      const k = payload.toString();
      const r = s.got.get(k) ?? { count: 0, withoutDup: 0 };
      r.count++;
      if (!packet.dup) r.withoutDup++;
      s.got.set(k, r);
    });
    return s;
  }

  function publisher(id: string, v: 4 | 5, first: number): Publisher {
    const p: Publisher = Object.assign(peer(id, first, options(v, true, id)), { seq: 0, acked: [] as number[], failed: 0, sent: new Map<number, number>() });
    p.client.on('packetsend', (packet) => {
      if (packet.cmd !== 'publish') return;
      const seq = Number(String(packet.payload).split(':')[1]);
      p.sent.set(seq, (p.sent.get(seq) ?? 0) + 1);
    });
    return p;
  }

  async function restart(name: string, role: Role, extra: Record<string, string>): Promise<{ ms: number; code: number | null }> {
    const proc = broker.processes.get(name)!;
    const t0 = Date.now();
    // SIGKILL after 60 s only keeps a hung process from hanging the test: it reads as code null.
    const code = await proc.stop(60_000);
    const ms = Date.now() - t0;
    const next = await broker.spawnRole(role, name, extra);
    if (role === 'session') {
      sessionProcs.push(next);
      await waitUntilShardsSpread(state, ['session-1', 'session-2'], SHARDS, 30_000);
    }
    return { ms, code };
  }

  // The bound only turns a hang (e.g. a SUBACK that never comes) into a failure with the processes' output.
  test('SIGTERM every process of every tier in turn: clean exits, no acknowledged message lost, no Will', { timeout: 600_000 }, async (t) => {
    const watcher = subscriber('will-watcher', 5, 1);
    const subs = [subscriber('sub-v5', 5, 0), subscriber('sub-v3', 4, 1)];
    const shared = [subscriber('share-a', 5, 0), subscriber('share-b', 4, 1)];
    const pubs = [publisher('pub-v5-a', 5, 0), publisher('pub-v5-b', 5, 1), publisher('pub-v3-a', 4, 0), publisher('pub-v3-b', 4, 1)];
    const all = [watcher, ...subs, ...shared, ...pubs];
    await waitFor(() => all.every((p) => p.connects > 0), 'every client connected', 20_000).catch((err: Error) => {
      throw new Error(`${err.message}: not connected: ${all.filter((p) => p.connects === 0).map((p) => p.id)}`);
    });
    await subscribe(watcher.client, 'will/#', { qos: 1 });
    for (const s of subs) await subscribe(s.client, 'load/#', { qos: 1 });
    for (const s of shared) await subscribe(s.client, '$share/g/load/#', { qos: 1 });

    let publishing = true;
    const loops = pubs.map(async (p) => {
      while (publishing) {
        const seq = ++p.seq;
        p.client.publish(`load/${p.id}`, `${p.id}:${seq}`, { qos: 1 }, (err) => {
          if (err) p.failed++;
          else p.acked.push(seq);
        });
        await sleep(PUBLISH_EVERY_MS);
      }
    });

    const plan: Array<[string, Role, Record<string, string>]> = [
      ['gateway-1', 'gateway', { SHARDMQ_MQTT_PORT: String(broker.ports[0]) }],
      ['gateway-2', 'gateway', { SHARDMQ_MQTT_PORT: String(broker.ports[1]) }],
      ['session', 'session', { SHARDMQ_NODE_ID: 'session-1' }],
      ['session-2', 'session', { SHARDMQ_NODE_ID: 'session-2' }],
      ['router', 'router', {}],
      ['router-2', 'router', {}],
      ['auth', 'auth', {}],
      ['auth-2', 'auth', {}],
    ];
    const stops: string[] = [];
    for (const [name, role, extra] of plan) {
      await sleep(1000); // steady load between restarts
      const { ms, code } = await restart(name, role, extra);
      stops.push(`${name} ${ms} ms`);
      assert.equal(code, 0, `${name} must finish its graceful stop by itself (exit 0)`);
      await waitFor(() => all.every((p) => p.client.connected), `every client connected again after restarting ${name}`, 30_000);
    }
    await sleep(1000);
    publishing = false;
    await Promise.all(loops);
    // Every publish in flight gets its PUBACK.
    await waitFor(() => pubs.every((p) => p.acked.length + p.failed === p.seq), 'every publish acknowledged', 30_000);

    const expected = pubs.flatMap((p) => p.acked.map((s) => `${p.id}:${s}`));
    const missing = (got: (k: string) => boolean) => expected.filter((k) => !got(k));
    await waitFor(
      () => subs.every((s) => missing((k) => s.got.has(k)).length === 0) && missing((k) => shared.some((s) => s.got.has(k))).length === 0,
      'every acknowledged message delivered',
      30_000,
    ).catch(() => {});

    const sent = pubs.reduce((a, p) => a + p.seq, 0);
    const resent = pubs.reduce((a, p) => a + [...p.sent.values()].filter((n) => n > 1).length, 0);
    const reconnects = all.reduce((a, p) => a + p.connects - 1, 0);
    t.diagnostic(`stop times: ${stops.join(', ')}`);
    const failed = pubs.reduce((a, p) => a + p.failed, 0);
    t.diagnostic(`sent ${sent}, acked ${expected.length}, refused ${failed}, publisher re-sends ${resent}, reconnects ${reconnects}`);
    for (const s of [...subs, ...shared]) {
      const dups = [...s.got.values()].filter((r) => r.count > 1).length;
      t.diagnostic(`${s.id}: received ${s.got.size} distinct, ${dups} delivered more than once`);
    }

    for (const s of subs)
      assert.deepEqual(
        missing((k) => s.got.has(k)),
        [],
        `${s.id} lost acknowledged messages`,
      );
    assert.deepEqual(
      missing((k) => shared.some((s) => s.got.has(k))),
      [],
      'the $share group lost acknowledged messages',
    );
    // A second copy without DUP is only legitimate when the publisher sent the message twice.
    const sentTwice = (k: string) => {
      const [id, seq] = k.split(':');
      return (pubs.find((p) => p.id === id)?.sent.get(Number(seq)) ?? 0) > 1;
    };
    for (const s of [...subs, ...shared]) {
      const bad = [...s.got.entries()].filter(([k, r]) => r.withoutDup > 1 && !sentTwice(k)).map(([k]) => k);
      assert.deepEqual(bad, [], `${s.id} got copies without DUP`);
    }
    assert.deepEqual([...watcher.got.keys()], [], 'no Will: every client came back within its Will Delay');
    for (const p of sessionProcs) assert.doesNotMatch(p.output(), LEASE_TROUBLE, `${p.name} lost a lease (a failover, not a handoff)`);
  });
});
