import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectNatsBus, createMemoryBus, subjectKind, type Bus } from '../../common/src/bus/index.js';
import { EnvelopeError } from '../../common/src/envelope/codec.js';
import { decodeHeartbeat } from '../../common/src/envelope/heartbeat.js';
import { createLogger } from '../../common/src/log.js';
import { Metrics } from '../../common/src/metrics.js';
import { eventually, metricValue } from '../support/auth-harness.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { waitFor } from '../support/mqtt-clients.js';

// The bus boundary, on both buses: whatever a subscription handler throws (or rejects) is
// caught, counted by subject kind and logged (rate-limited, with the stack); a malformed
// envelope is counted apart; a request whose handler failed gets the subscription's
// errorReply; the subscription keeps receiving.

interface Setup {
  bus: Bus;
  metrics: Metrics;
  logs: string[];
}

const enc = new TextEncoder();

function suite(name: string, make: (log: ReturnType<typeof createLogger>, metrics: Metrics) => Promise<Bus>, teardown: () => Promise<void> = async () => {}) {
  describe(name, () => {
    const s = {} as Setup;
    before(async () => {
      s.logs = [];
      s.metrics = new Metrics(false);
      s.bus = await make(
        createLogger('debug', {}, (l) => s.logs.push(l)),
        s.metrics,
      );
    });
    after(async () => {
      await s.bus.close();
      await teardown();
    });

    it('a throwing handler is counted and logged with its stack, and keeps receiving', async () => {
      let good = 0;
      s.bus.subscribe('mqtt.route.pub', (m) => {
        if (m.data[0] === 1) throw new TypeError('boom in handler');
        good++;
      });
      await s.bus.flush();
      s.bus.publish('mqtt.route.pub', Uint8Array.from([1]));
      s.bus.publish('mqtt.route.pub', Uint8Array.from([0]));
      await waitFor(() => good === 1, 'the message after the throwing one');
      assert.equal(await metricValue(s.metrics, 'shardmq_bus_handler_errors_total', { subject_kind: 'route.pub' }), 1);
      const line = s.logs.find((l) => l.includes('bus handler threw'));
      assert.ok(line, 'an error line');
      const rec = JSON.parse(line) as { err: string; stack: string; subjectKind: string };
      assert.match(rec.err, /TypeError: boom in handler/);
      assert.match(rec.stack, /bus-handler-failures/);
      assert.equal(rec.subjectKind, 'route.pub');
    });

    it('a malformed envelope is counted apart, and a flood logs the first and every 1000th only', async () => {
      let seen = 0;
      s.bus.subscribe('mqtt.gw.hb', (m) => {
        seen++;
        decodeHeartbeat(m.data);
      });
      await s.bus.flush();
      for (let i = 0; i < 2500; i++) s.bus.publish('mqtt.gw.hb', Uint8Array.from([0xff]));
      await waitFor(() => seen === 2500, 'every garbage heartbeat handled');
      await eventually('all counted', async () => (await metricValue(s.metrics, 'shardmq_bus_malformed_envelopes_total', { subject_kind: 'gw.hb' })) === 2500);
      const lines = s.logs.filter((l) => l.includes('dropping malformed bus envelope'));
      assert.deepEqual(
        lines.map((l) => (JSON.parse(l) as { occurrences: number }).occurrences),
        [1, 1000, 2000],
      );
      assert.equal(await metricValue(s.metrics, 'shardmq_bus_handler_errors_total', { subject_kind: 'gw.hb' }), 0);
    });

    it('a request whose handler fails gets the errorReply instead of waiting for its timeout', async () => {
      s.bus.subscribe(
        'mqtt.sess.7.in',
        () => {
          throw new EnvelopeError('bad');
        },
        { errorReply: Uint8Array.from([0x80, 1]) },
      );
      s.bus.subscribe('mqtt.sess.8.in', (m) => Promise.reject(new Error(`async failure ${m.data.length}`)), { errorReply: Uint8Array.from([0x81]) });
      await s.bus.flush();
      // The timeout is far above any answer time: a RequestTimeoutError here means no answer came.
      const r = await s.bus.request('mqtt.sess.7.in', enc.encode('x'), { timeoutMs: 30_000 });
      assert.deepEqual([...r.data], [0x80, 1]);
      const r2 = await s.bus.request('mqtt.sess.8.in', enc.encode('x'), { timeoutMs: 30_000 });
      assert.deepEqual([...r2.data], [0x81]);
      assert.equal(await metricValue(s.metrics, 'shardmq_bus_malformed_envelopes_total', { subject_kind: 'sess.N.in' }), 1);
      assert.equal(await metricValue(s.metrics, 'shardmq_bus_handler_errors_total', { subject_kind: 'sess.N.in' }), 1);
    });
  });
}

suite('memory bus', async (log, metrics) => createMemoryBus({ log, metrics }));

let nats: NatsServerHandle | undefined;
suite(
  'NATS bus',
  async (log, metrics) => {
    nats = await startNatsServer();
    return connectNatsBus({ servers: nats.url, log, metrics });
  },
  async () => {
    await nats?.stop();
  },
);

describe('subject kinds stay low-cardinality', () => {
  it('folds shard numbers, gateway ids and inboxes', () => {
    assert.equal(subjectKind('mqtt.sess.17.in'), 'sess.N.in');
    assert.equal(subjectKind('mqtt.sess.*.in'), 'sess.*.in');
    assert.equal(subjectKind('other.gw.gw-a1b2.out'), 'gw.out');
    assert.equal(subjectKind('mqtt.gw.hb'), 'gw.hb');
    assert.equal(subjectKind('mqtt.admin.v1.gw.gw-a1b2'), 'admin.v1.gw');
    assert.equal(subjectKind('mqtt.admin.v1.sess.17'), 'admin.v1.sess');
    assert.equal(subjectKind('mqtt.admin.v1.reply.0a1b2c3d'), 'admin.v1.reply');
    assert.equal(subjectKind('auth.v1.connect'), 'v1.connect');
    assert.equal(subjectKind('_INBOX.abc.def'), 'inbox');
  });
});
