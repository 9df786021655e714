import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BusValue, bodyBytes, connectNatsBus, createMemoryBus, handedOver, bodyValue, type Bus, type BusCodec, type BusMsg } from '../../common/src/bus/index.js';
import { gatewayOutCodec, GwOut, type GatewayOutItem } from '../../common/src/envelope/gateway-out.js';
import type { Message } from '../../common/src/envelope/message.js';
import { routePublishCodec, type RoutePublish } from '../../common/src/envelope/router.js';
import { SessIn, sessionInCodec, type SessionInEnv } from '../../common/src/envelope/session-in.js';
import { silentLogger } from '../../common/src/log.js';
import { Metrics } from '../../common/src/metrics.js';
import { metricValue } from '../support/auth-harness.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';

/**
 * A BusValue (bus-value.ts) on both buses: the memory bus hands the very object to the receiver
 * and never encodes it unless someone reads the bytes (then once); NATS carries its bytes, the
 * receiver decodes them, and bytes that do not decode are still dropped and counted by the bus
 * guard. Waits end on messages, never on time.
 */

/** A codec that counts its calls (wraps a real envelope codec). */
function counting<T>(inner: BusCodec<T>): BusCodec<T> & { encodes: number; decodes: number } {
  const c = {
    encodes: 0,
    decodes: 0,
    encode(v: T) {
      c.encodes++;
      return inner.encode(v);
    },
    decode(d: Uint8Array) {
      c.decodes++;
      return inner.decode(d);
    },
  };
  return c;
}

function message(topic: string): Message {
  return { topic, payload: Buffer.from('payload'), qos: 1, retain: false, origin: 'k1', props: { userProperties: { a: ['1', '2'] }, correlationData: Buffer.from([1, 2]) } };
}

/** Resolves with the first message on `subject`; `handle` runs in the bus handler. */
function next(bus: Bus, subject: string, handle: (m: BusMsg) => void = () => {}): Promise<BusMsg> {
  return new Promise((resolve) => {
    const sub = bus.subscribe(subject, (m) => {
      sub.unsubscribe();
      handle(m);
      resolve(m);
    });
  });
}

function suite(kind: 'memory' | 'nats', make: (metrics: Metrics) => Promise<{ a: Bus; b: Bus }>, teardown: () => Promise<void>) {
  describe(`bus values (${kind})`, { timeout: 60_000 }, () => {
    let a: Bus;
    let b: Bus;
    const metrics = new Metrics(false);
    before(async () => {
      ({ a, b } = await make(metrics));
    });
    after(async () => {
      await a.close();
      if (b !== a) await b.close();
      await teardown();
    });

    it('a published route envelope reaches its receiver equal, as the object itself in one process', async () => {
      const codec = counting(routePublishCodec);
      const sent: RoutePublish = { mountpoint: 'mp', message: message('t/1'), id: 'r1' };
      let got: RoutePublish | undefined;
      const arrived = next(b, 'v.route', (m) => {
        got = bodyValue(m, codec);
      });
      await b.flush();
      a.publish('v.route', new BusValue(codec, sent));
      await arrived;
      assert.deepEqual(got, sent);
      if (kind === 'memory') {
        assert.equal(got, sent, 'the memory bus hands over the object');
        assert.equal(codec.encodes, 0, 'nothing read the bytes: never encoded');
        assert.equal(codec.decodes, 0);
      } else {
        assert.notEqual(got, sent);
        assert.equal(codec.encodes, 1);
        assert.equal(codec.decodes, 1);
      }
    });

    it('a receiver that reads the bytes gets the encoding, made once however many read them', async () => {
      const codec = counting(sessionInCodec);
      const env: SessionInEnv = { kind: SessIn.PubAck, key: 'k', epoch: 3, packetId: 7, rc: 0 };
      const datas: Uint8Array[] = [];
      const one = next(b, 'v.bytes', (m) => datas.push(m.data, m.data));
      const two = next(b, 'v.bytes', (m) => datas.push(m.data));
      await b.flush();
      a.publish('v.bytes', new BusValue(codec, env));
      await Promise.all([one, two]);
      assert.equal(datas.length, 3);
      for (const d of datas) assert.deepEqual(sessionInCodec.decode(d), env);
      assert.equal(codec.encodes, 1);
    });

    it('a receiver asking with another codec decodes the bytes instead of taking the value', async () => {
      const items: GatewayOutItem[] = [{ kind: GwOut.Close, connId: 4, epoch: 2, rc: 0x8e }];
      let taken: unknown = 'unset';
      let decoded: readonly GatewayOutItem[] | undefined;
      const arrived = next(b, 'v.other', (m) => {
        taken = handedOver(m, routePublishCodec);
        decoded = bodyValue(m, gatewayOutCodec);
      });
      await b.flush();
      a.publish('v.other', new BusValue(gatewayOutCodec, items));
      await arrived;
      assert.equal(taken, undefined, 'a value of another codec is never handed over');
      assert.deepEqual(decoded, items);
    });

    it('a request carries a value; its answer comes back as bytes', async () => {
      const codec = counting(sessionInCodec);
      const env: SessionInEnv = { kind: SessIn.Deliver, targets: [{ key: 'k', qos: 1, retainAsPublished: false, subIds: [5] }], message: message('t/2'), id: 'd1' };
      let got: SessionInEnv | undefined;
      const sub = b.subscribe('v.req', (m) => {
        got = bodyValue(m, codec);
        m.respond(Uint8Array.of(0));
      });
      await b.flush();
      const body = new BusValue(codec, env);
      const r = await a.request('v.req', body, { timeoutMs: 10_000 });
      sub.unsubscribe();
      assert.deepEqual([...r.data], [0]);
      assert.deepEqual(got, env);
      assert.equal(codec.encodes, kind === 'memory' ? 0 : 1);
      // A retry sends the very bytes again: encoded once.
      assert.equal(bodyBytes(body), bodyBytes(body));
    });

    it('bytes that do not decode are dropped and counted by the bus guard; the subscription keeps receiving', async () => {
      const seen: SessionInEnv[] = [];
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      const sub = b.subscribe('mqtt.sess.1.in', (m) => {
        seen.push(bodyValue(m, sessionInCodec));
        resolve();
      });
      await b.flush();
      a.publish('mqtt.sess.1.in', Uint8Array.of(0xff, 0xff, 0xff));
      const env: SessionInEnv = { kind: SessIn.PubComp, key: 'k', epoch: 1, packetId: 2, rc: 0 };
      a.publish('mqtt.sess.1.in', new BusValue(sessionInCodec, env));
      await done;
      sub.unsubscribe();
      assert.deepEqual(seen, [env]);
      const dropped =
        (await metricValue(metrics, 'shardmq_bus_malformed_envelopes_total', { subject_kind: 'sess.N.in' })) +
        (await metricValue(metrics, 'shardmq_bus_unknown_version_envelopes_total', { subject_kind: 'sess.N.in' }));
      assert.equal(dropped, 1);
    });
  });
}

suite(
  'memory',
  async (metrics) => {
    const bus = createMemoryBus({ log: silentLogger, metrics });
    return { a: bus, b: bus };
  },
  async () => {},
);

let server: NatsServerHandle | undefined;
suite(
  'nats',
  async (metrics) => {
    server = await startNatsServer();
    const a = await connectNatsBus({ servers: server.url, name: 'values-a', log: silentLogger });
    const b = await connectNatsBus({ servers: server.url, name: 'values-b', log: silentLogger, metrics });
    return { a, b };
  },
  async () => {
    await server?.stop();
  },
);
