import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connectNatsBus, createMemoryBus, natsConnection, NoRespondersError, RequestTimeoutError, type Bus, type BusMsg, type BusSubscription } from '../../common/src/bus/index.js';
import { silentLogger } from '../../common/src/log.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';

/**
 * One contract, two buses. Each implementation provides two bus handles, `a` and `b`:
 * the same object for the memory bus, two separate connections for NATS (so messages
 * really cross the server). Tests use distinct subjects so they can share the handles.
 *
 * No test measures time: waits end on message counts or sentinel messages, and node:test
 * timeouts only stop a hung test.
 */
interface Harness {
  a: Bus;
  b: Bus;
  /** A fresh, independent pair for tests that close their bus. */
  fresh(): Promise<{ a: Bus; b: Bus; close(): Promise<void> }>;
}

const TEST_TIMEOUT_MS = 20_000;
const enc = new TextEncoder();
const dec = new TextDecoder();
const END = enc.encode('END');

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}
function readU32(d: Uint8Array): number {
  return new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(0);
}

/** Collects messages of one subscription and lets a test wait for a condition on them. */
class Collector {
  readonly msgs: BusMsg[] = [];
  readonly sub: BusSubscription;
  private waiters: { pred: (c: Collector) => boolean; resolve: () => void }[] = [];

  constructor(bus: Bus, subject: string, queue?: string, onMsg?: (m: BusMsg) => void) {
    this.sub = bus.subscribe(
      subject,
      (m) => {
        this.msgs.push(m);
        onMsg?.(m);
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(this)) return true;
          w.resolve();
          return false;
        });
      },
      queue ? { queue } : undefined,
    );
  }

  until(pred: (c: Collector) => boolean): Promise<void> {
    if (pred(this)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  count(n: number): Promise<void> {
    return this.until((c) => c.msgs.length >= n);
  }

  /** Waits for a message whose payload is END, i.e. everything published before it arrived. */
  sentinel(): Promise<void> {
    return this.until((c) => c.msgs.some((m) => isEnd(m)));
  }

  /** Subjects of non-sentinel messages, in arrival order. */
  subjects(): string[] {
    return this.msgs.filter((m) => !isEnd(m)).map((m) => m.subject);
  }
}

function isEnd(m: BusMsg): boolean {
  return m.data.length === 3 && dec.decode(m.data) === 'END';
}

function contract(name: string, setup: () => Promise<Harness>, teardown: () => Promise<void>): void {
  describe(`bus contract: ${name}`, { timeout: 120_000 }, () => {
    let h: Harness;
    before(async () => {
      h = await setup();
    });
    after(async () => {
      await teardown();
    });

    it('delivers to an exact subscriber, never inside the publisher call stack', { timeout: TEST_TIMEOUT_MS }, async () => {
      let publishing = false;
      let sawPublishing: boolean | undefined;
      const c = new Collector(h.a, 'ex.one', undefined, () => {
        sawPublishing ??= publishing;
      });
      await h.a.flush();
      publishing = true;
      h.b.publish('ex.one', enc.encode('hello'));
      h.a.publish('ex.one', enc.encode('self'));
      publishing = false;
      await c.count(2);
      assert.equal(sawPublishing, false);
      assert.deepEqual(
        c.msgs.map((m) => m.subject),
        ['ex.one', 'ex.one'],
      );
      assert.deepEqual(c.msgs.map((m) => dec.decode(m.data)).sort(), ['hello', 'self']);
      assert.equal(c.msgs[0]!.reply, undefined);
      assert.equal(c.msgs[0]!.headers, undefined);
      c.sub.unsubscribe();
    });

    it('a message above maxPayloadBytes is refused without throwing: publish drops it, request rejects', { timeout: TEST_TIMEOUT_MS }, async () => {
      const limit = h.a.maxPayloadBytes;
      assert.ok(limit >= 1024 * 1024, `limit ${limit}`);
      if (limit > 64 * 1024 * 1024) return; // the memory bus has no limit to pass
      const c = new Collector(h.a, 'big.one');
      await h.a.flush();
      assert.doesNotThrow(() => h.b.publish('big.one', new Uint8Array(limit + 1)));
      h.b.publish('big.one', END);
      await c.sentinel();
      assert.deepEqual(
        c.msgs.map((m) => m.data.length),
        [END.length],
        'only the sentinel arrived',
      );
      await assert.rejects(h.b.request('big.one', new Uint8Array(limit + 1), { timeoutMs: 5_000 }));
      c.sub.unsubscribe();
    });

    it('matches `*` as one token and `>` as one or more trailing tokens', { timeout: TEST_TIMEOUT_MS }, async () => {
      const filters = ['wc.*.c', 'wc.>', 'wc.a.*', 'wc.*', 'wc.a.>', 'wc.a.c'];
      const cs = filters.map((f) => new Collector(h.a, f));
      await h.a.flush();
      const published = ['wc.a.c', 'wc.b.c', 'wc.a', 'wc.a.b.c', 'wc', 'wc.b.d', 'other.a.c', 'wc.a.c.d.e'];
      for (const s of published) h.b.publish(s, enc.encode(s));
      // One sentinel per filter, on a subject that filter matches.
      for (const f of filters) h.b.publish(f.replace('*', 'zz').replace('>', 'zz'), END);
      await Promise.all(cs.map((c) => c.sentinel()));
      const got = Object.fromEntries(filters.map((f, i) => [f, cs[i]!.subjects()]));
      assert.deepEqual(got, {
        'wc.*.c': ['wc.a.c', 'wc.b.c'],
        'wc.>': ['wc.a.c', 'wc.b.c', 'wc.a', 'wc.a.b.c', 'wc.b.d', 'wc.a.c.d.e'],
        'wc.a.*': ['wc.a.c'],
        'wc.*': ['wc.a'],
        'wc.a.>': ['wc.a.c', 'wc.a.b.c', 'wc.a.c.d.e'],
        'wc.a.c': ['wc.a.c'],
      });
      for (const c of cs) c.sub.unsubscribe();
    });

    it('keeps publish order per subscriber over 10k messages', { timeout: TEST_TIMEOUT_MS }, async () => {
      const n = 10_000;
      const c1 = new Collector(h.a, 'ord.x');
      const c2 = new Collector(h.b, 'ord.*');
      await h.a.flush();
      await h.b.flush();
      for (let i = 0; i < n; i++) h.b.publish('ord.x', u32(i));
      await Promise.all([c1.count(n), c2.count(n)]);
      for (const c of [c1, c2]) {
        const seq = c.msgs.map((m) => readU32(m.data));
        const firstBad = seq.findIndex((v, i) => v !== i);
        assert.equal(firstBad, -1, `out of order at index ${firstBad}`);
        assert.equal(seq.length, n);
      }
      c1.sub.unsubscribe();
      c2.sub.unsubscribe();
    });

    it('gives each message to exactly one queue group member, spread over members', { timeout: TEST_TIMEOUT_MS }, async () => {
      const n = 300;
      const members = [new Collector(h.a, 'qg.work', 'workers'), new Collector(h.b, 'qg.work', 'workers'), new Collector(h.a, 'qg.*', 'workers')];
      const other = new Collector(h.b, 'qg.work', 'auditors');
      const plain = new Collector(h.a, 'qg.work');
      await h.a.flush();
      await h.b.flush();
      for (let i = 0; i < n; i++) h.b.publish('qg.work', u32(i));
      await plain.count(n);
      await other.count(n);
      const total = () => members.reduce((s, m) => s + m.msgs.length, 0);
      await Promise.all(members.map((m) => m.until(() => total() >= n)));
      const ids = members.flatMap((m) => m.msgs.map((x) => readU32(x.data)));
      assert.equal(ids.length, n);
      assert.equal(new Set(ids).size, n, 'a message reached two members of one group');
      for (const m of members) assert.ok(m.msgs.length > 0, 'a queue member got nothing');
      assert.equal(other.msgs.length, n, 'a second group gets its own copy of each message');
      for (const c of [...members, other, plain]) c.sub.unsubscribe();
    });

    it('answers request/reply, with headers both ways', { timeout: TEST_TIMEOUT_MS }, async () => {
      let seenReply: string | undefined;
      let seenHeaders: Record<string, string> | undefined;
      const sub = h.a.subscribe('rr.echo', (m) => {
        seenReply = m.reply;
        seenHeaders = m.headers;
        const out = Uint8Array.from(m.data).reverse();
        assert.equal(m.respond(out, { 'X-Answer': 'yes', 'shardmq-code': '0' }), true);
      });
      await h.a.flush();
      const r = await h.b.request('rr.echo', enc.encode('abc'), { timeoutMs: 10_000, headers: { 'X-Req': 'r1' } });
      assert.equal(dec.decode(r.data), 'cba');
      assert.deepEqual(r.headers, { 'X-Answer': 'yes', 'shardmq-code': '0' });
      assert.equal(typeof seenReply, 'string');
      assert.deepEqual(seenHeaders, { 'X-Req': 'r1' });
      // Twice more, also from the serving bus itself.
      const [r2, r3] = await Promise.all([h.a.request('rr.echo', enc.encode('12'), { timeoutMs: 10_000 }), h.b.request('rr.echo', enc.encode('xyz'), { timeoutMs: 10_000 })]);
      assert.equal(dec.decode(r2.data), '21');
      assert.equal(dec.decode(r3.data), 'zyx');
      sub.unsubscribe();
    });

    it('respond() returns false for a message without a reply subject', { timeout: TEST_TIMEOUT_MS }, async () => {
      const c = new Collector(h.a, 'rr.noreply');
      await h.a.flush();
      h.b.publish('rr.noreply', enc.encode('x'));
      await c.count(1);
      assert.equal(c.msgs[0]!.respond(enc.encode('y')), false);
      c.sub.unsubscribe();
    });

    it('rejects a request nobody answers with RequestTimeoutError', { timeout: TEST_TIMEOUT_MS }, async () => {
      const silent = new Collector(h.a, 'rr.silent');
      await h.a.flush();
      await assert.rejects(h.b.request('rr.silent', enc.encode('?'), { timeoutMs: 200 }), (err: unknown) => {
        assert.ok(err instanceof RequestTimeoutError, `got ${String(err)}`);
        assert.equal(err.code, 'TIMEOUT');
        assert.equal(err.subject, 'rr.silent');
        assert.equal(err.timeoutMs, 200);
        return true;
      });
      assert.equal(silent.msgs.length, 1, 'the request reached the subscriber');
      silent.sub.unsubscribe();
    });

    it('rejects a request to an unserved subject with NoRespondersError, long before its timeout', { timeout: TEST_TIMEOUT_MS }, async () => {
      // timeoutMs exceeds the test timeout: only a prompt no-responders answer passes.
      const check = (err: unknown) => {
        assert.ok(err instanceof NoRespondersError, `got ${String(err)}`);
        assert.equal(err.code, 'NO_RESPONDERS');
        assert.equal(err.subject, 'nobody.here');
        return true;
      };
      await assert.rejects(h.b.request('nobody.here', enc.encode('?'), { timeoutMs: 60_000 }), check);
      // A subscription that has gone away no longer counts as a responder.
      const gone = h.a.subscribe('nobody.here', (m) => m.respond(enc.encode('!')));
      await h.a.flush();
      const r = await h.b.request('nobody.here', enc.encode('?'), { timeoutMs: 10_000 });
      assert.equal(dec.decode(r.data), '!');
      gone.unsubscribe();
      await h.a.flush();
      await assert.rejects(h.b.request('nobody.here', enc.encode('?'), { timeoutMs: 60_000 }), check);
    });

    it('round-trips headers on publish', { timeout: TEST_TIMEOUT_MS }, async () => {
      const c = new Collector(h.a, 'hdr.pub');
      await h.a.flush();
      const headers = { 'X-Trace': 'abc-123', 'shardmq-epoch': '42', Empty: '' };
      h.b.publish('hdr.pub', enc.encode('body'), { headers });
      headers['X-Trace'] = 'changed after publish';
      h.b.publish('hdr.pub', END);
      await c.sentinel();
      assert.deepEqual(c.msgs[0]!.headers, { 'X-Trace': 'abc-123', 'shardmq-epoch': '42', Empty: '' });
      assert.equal(dec.decode(c.msgs[0]!.data), 'body');
      assert.equal(c.msgs[1]!.headers, undefined);
      c.sub.unsubscribe();
    });

    it('delivers to the reply subject given in publish options', { timeout: TEST_TIMEOUT_MS }, async () => {
      const replies = new Collector(h.b, 'pr.replies');
      const server = h.a.subscribe('pr.ask', (m) => m.respond(enc.encode(`re:${dec.decode(m.data)}`)));
      await h.a.flush();
      await h.b.flush();
      h.b.publish('pr.ask', enc.encode('q1'), { reply: 'pr.replies' });
      await replies.count(1);
      assert.equal(dec.decode(replies.msgs[0]!.data), 're:q1');
      server.unsubscribe();
      replies.sub.unsubscribe();
    });

    it('stops delivery on unsubscribe, also for messages already on their way', { timeout: TEST_TIMEOUT_MS }, async () => {
      const control = new Collector(h.a, 'us.x');
      let gotAfterUnsub = 0;
      let sub: BusSubscription | undefined;
      let first = true;
      sub = h.a.subscribe('us.x', () => {
        if (first) {
          first = false;
          sub!.unsubscribe();
        } else {
          gotAfterUnsub++;
        }
      });
      await h.a.flush();
      // Published in one burst: several are queued for the subscriber when it unsubscribes.
      for (let i = 0; i < 50; i++) h.b.publish('us.x', u32(i));
      await control.count(50);
      // More after the unsubscribe has certainly reached everyone.
      await h.a.flush();
      for (let i = 50; i < 60; i++) h.b.publish('us.x', u32(i));
      await control.count(60);
      assert.equal(first, false);
      assert.equal(gotAfterUnsub, 0);
      sub.unsubscribe(); // twice is harmless
      control.sub.unsubscribe();
    });

    it('round-trips binary payloads byte for byte, including empty ones', { timeout: TEST_TIMEOUT_MS }, async () => {
      const all = new Uint8Array(256).map((_, i) => i);
      const payloads = [new Uint8Array(0), Uint8Array.of(0), all, randomBytes(64 * 1024), Buffer.from([0xff, 0x00, 0x0d, 0x0a, 0x00])];
      const c = new Collector(h.a, 'bin.x');
      await h.a.flush();
      for (const p of payloads) h.b.publish('bin.x', p);
      await c.count(payloads.length);
      payloads.forEach((p, i) => {
        const d = c.msgs[i]!.data;
        assert.ok(d instanceof Uint8Array);
        assert.equal(d.length, p.length);
        assert.ok(Buffer.from(d.buffer, d.byteOffset, d.byteLength).equals(Buffer.from(p.buffer, p.byteOffset, p.byteLength)), `payload ${i} changed`);
      });
      // Request/reply with empty bodies both ways.
      const s = h.a.subscribe('bin.empty', (m) => m.respond(m.data));
      await h.a.flush();
      const r = await h.b.request('bin.empty', new Uint8Array(0), { timeoutMs: 10_000 });
      assert.equal(r.data.length, 0);
      s.unsubscribe();
      c.sub.unsubscribe();
    });

    it('survives a handler that throws', { timeout: TEST_TIMEOUT_MS }, async () => {
      let thrown = 0;
      const bad = h.a.subscribe('thr.x', () => {
        thrown++;
        throw new Error('handler bug (expected by this test)');
      });
      const good = new Collector(h.a, 'thr.x');
      await h.a.flush();
      for (let i = 0; i < 20; i++) h.b.publish('thr.x', u32(i));
      await good.count(20);
      assert.deepEqual(
        good.msgs.map((m) => readU32(m.data)),
        Array.from({ length: 20 }, (_, i) => i),
      );
      await good.until(() => thrown === 20);
      assert.equal(thrown, 20);
      bad.unsubscribe();
      good.sub.unsubscribe();
    });

    it('flush() resolves after earlier publishes were handed on', { timeout: TEST_TIMEOUT_MS }, async () => {
      const c = new Collector(h.a, 'fl.x');
      await h.a.flush();
      for (let i = 0; i < 100; i++) h.a.publish('fl.x', u32(i));
      await h.a.flush();
      await c.count(100);
      assert.equal(c.msgs.length, 100);
      c.sub.unsubscribe();
    });

    it('close() delivers what was published, then refuses further calls', { timeout: TEST_TIMEOUT_MS }, async () => {
      const f = await h.fresh();
      try {
        const c = new Collector(f.a, 'cl.x');
        await f.a.flush();
        for (let i = 0; i < 100; i++) f.a.publish('cl.x', u32(i));
        await f.a.close();
        assert.equal(c.msgs.length, 100, 'close() drained queued deliveries');
        assert.throws(() => f.a.publish('cl.x', u32(0)));
        assert.throws(() => f.a.subscribe('cl.y', () => {}));
        await assert.rejects(f.a.request('cl.x', u32(0), { timeoutMs: 1000 }));
        await assert.rejects(f.a.flush());
        await f.a.close(); // idempotent
      } finally {
        await f.close();
      }
    });
  });
}

contract(
  'memory',
  async () => {
    const bus = createMemoryBus({ log: silentLogger });
    return {
      a: bus,
      b: bus,
      async fresh() {
        const x = createMemoryBus({ log: silentLogger });
        return { a: x, b: x, close: () => x.close() };
      },
    };
  },
  async () => {},
);

let server: NatsServerHandle | undefined;
const natsBuses: Bus[] = [];
contract(
  'nats',
  async () => {
    server = await startNatsServer();
    const url = server.url;
    const open = async (name: string) => {
      const b = await connectNatsBus({ servers: url, name, log: silentLogger });
      natsBuses.push(b);
      return b;
    };
    const a = await open('contract-a');
    const b = await open('contract-b');
    // The accessor JetStream users need works on a NATS bus only.
    assert.equal(natsConnection(a).isClosed(), false);
    assert.throws(() => natsConnection(createMemoryBus()));
    return {
      a,
      b,
      async fresh() {
        const x = await open('contract-fresh-a');
        const y = await open('contract-fresh-b');
        return {
          a: x,
          b: y,
          close: async () => {
            await x.close();
            await y.close();
          },
        };
      },
    };
  },
  async () => {
    for (const b of natsBuses) await b.close();
    await server?.stop();
  },
);

describe('bus status (nats)', { timeout: 60_000 }, () => {
  it('reports disconnected and connected again across a server restart', async () => {
    const srv = await startNatsServer();
    const bus = await connectNatsBus({ servers: srv.url, log: silentLogger });
    try {
      const seen: string[] = [];
      let onChange: (() => void) | undefined;
      bus.onStatus?.((s) => {
        seen.push(s);
        onChange?.();
      });
      const until = (s: string) =>
        new Promise<void>((resolve) => {
          const check = () => {
            if (seen.includes(s)) resolve();
          };
          onChange = check;
          check();
        });
      await srv.restart!();
      await until('connected');
      assert.ok(seen.includes('disconnected'), `saw ${seen.join(',')}`);
      // The reconnected bus works.
      const s = bus.subscribe('st.x', (m) => m.respond(m.data));
      const r = await bus.request('st.x', enc.encode('ok'), { timeoutMs: 10_000 });
      assert.equal(dec.decode(r.data), 'ok');
      s.unsubscribe();
      await bus.close();
      await until('closed');
    } finally {
      await bus.close();
      await srv.stop();
    }
  });
});
