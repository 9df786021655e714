import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { adminPort, adminRequest } from '../support/admin-http.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { MODES } from '../support/broker.js';
import { publish, subscribe, waitFor } from '../support/mqtt-clients.js';
import { shardmqCli } from '../support/shardmq-cli.js';

/**
 * The gateways' per-client lines and the client trace, in one process and in a cluster (two
 * gateways, the admin API asked on the auth process): a connect line with the client's
 * identity and connection parameters, a disconnect line with the reason and duration; a trace
 * logs every packet of the traced client in and out on every gateway, connections made during
 * the window included, never another client's packets, payloads or passwords, and stops at the
 * end of its window. Also `shardmq clients trace`.
 */

const TOKEN = 'trace-test-token';
const PAYLOAD = 'PAYLOAD-never-in-the-log';
const PASSWORD = 'trace-pw-never-in-the-log';

type Rec = Record<string, any>;

for (const mode of MODES) {
  describe(`client lines and client trace (${mode})`, () => {
    // A generous gather window: every gateway's answer to the trace request is awaited that long.
    const f = brokerFixture(mode, { env: { SHARDMQ_ADMIN_TOKEN: TOKEN, SHARDMQ_ADMIN_GATHER_MS: '3000' } });
    const api = (method: string, path: string, body?: unknown) => adminRequest(adminPort(f.broker.httpPorts), method, path, { token: TOKEN, body });
    const id = (s: string) => `${mode}-lines-${s}`;
    const recs: { proc: string; rec: Rec }[] = [];
    const raw: string[] = [];
    const gateways = () => [...f.broker.processes.keys()].filter((n) => n === 'shardmq' || n.startsWith('gateway'));
    const find = (pred: (r: Rec) => boolean) => recs.filter((x) => pred(x.rec));
    const waitRec = async (what: string, pred: (r: Rec) => boolean, n = 1) => {
      await waitFor(() => find(pred).length >= n, what, 30_000);
      return find(pred);
    };
    /** Every line a gateway wrote before a marker client's disconnect line has been read. */
    const barrier = async (gw: number) => {
      const marker = id(`marker-${Math.random().toString(36).slice(2)}`);
      const c = await f.pool.connect(f.broker.url(gw), { clientId: marker, protocolVersion: 4 });
      await c.endAsync();
      await waitRec("the marker client's disconnect line", (r) => r.msg === 'client disconnected' && r.clientId === marker);
    };

    before(() => {
      for (const name of gateways()) {
        f.broker.processes.get(name)!.onLine((l) => {
          raw.push(l);
          if (!l.startsWith('{')) return;
          try {
            recs.push({ proc: name, rec: JSON.parse(l) as Rec });
          } catch {
            /* a partial line is no log record */
          }
        });
      }
    });

    test('connect and disconnect lines carry the client, its address and parameters, the reason and the duration', async () => {
      const c = await f.pool.connect(f.broker.url(0), { clientId: id('a'), protocolVersion: 5, keepalive: 37, username: 'dev-user', password: PASSWORD });
      const [up] = await waitRec('the connect line', (r) => r.msg === 'client connected' && r.clientId === id('a'));
      assert.equal(up!.rec.level, 'info');
      assert.equal(up!.rec.username, 'dev-user');
      assert.match(up!.rec.peer, /^127\.0\.0\.1:\d+$/);
      assert.equal(up!.rec.protocolLevel, 5);
      assert.equal(up!.rec.keepaliveS, 37);
      assert.equal(up!.rec.cleanStart, true);
      assert.equal(up!.rec.listener, 'tcp');
      assert.equal(typeof up!.rec.gateway, 'string');
      await c.endAsync();
      const [down] = await waitRec('the disconnect line', (r) => r.msg === 'client disconnected' && r.clientId === id('a'));
      assert.equal(down!.rec.reason, 'client_disconnect');
      assert.equal(typeof down!.rec.durationMs, 'number');
      assert.ok(down!.rec.durationMs >= 0);

      // A 3.1.1 client with a persistent session, disconnected by the admin API.
      await f.pool.connect(f.broker.url(1), { clientId: id('b'), protocolVersion: 4, clean: false, keepalive: 20 });
      const [b] = await waitRec('the 3.1.1 connect line', (r) => r.msg === 'client connected' && r.clientId === id('b'));
      assert.equal(b!.rec.protocolLevel, 4);
      assert.equal(b!.rec.cleanStart, false);
      assert.equal(b!.rec.username, null);
      assert.equal((await api('DELETE', `/api/v1/clients/${id('b')}?session=true`)).status, 200);
      // 3.1.1 has no server DISCONNECT: the owner closes it without a reason code.
      const [kicked3] = await waitRec("the kicked 3.1.1 client's disconnect line", (r) => r.msg === 'client disconnected' && r.clientId === id('b'));
      assert.equal(kicked3!.rec.reason, 'closed_by_server');
      await f.pool.connect(f.broker.url(1), { clientId: id('c'), protocolVersion: 5 });
      await waitRec('the MQTT 5 connect line', (r) => r.msg === 'client connected' && r.clientId === id('c'));
      assert.equal((await api('DELETE', `/api/v1/clients/${id('c')}?session=true`)).status, 200);
      const [kicked5] = await waitRec("the kicked MQTT 5 client's disconnect line", (r) => r.msg === 'client disconnected' && r.clientId === id('c'));
      assert.equal(kicked5!.rec.reason, 'administrative_action');
      assert.equal(kicked5!.rec.rc, 0x98);
      assert.ok(!raw.some((l) => l.includes(PASSWORD)), 'a password in the log');
    });

    test('a trace logs every packet of the traced client, in and out, on every gateway, until its window ends', async () => {
      const T = id('traced');
      const O = id('other');
      const t = await f.pool.connect(f.broker.url(0), { clientId: T, protocolVersion: 5, username: 'tracer', password: PASSWORD });
      const o = await f.pool.connect(f.broker.url(0), { clientId: O, protocolVersion: 5 });
      await subscribe(o, `${mode}/trace/#`, { qos: 1 });

      const r = await api('POST', `/api/v1/clients/${T}/trace`, { seconds: 300 });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.seconds, 300);
      assert.equal(r.json.gateways.length, gateways().length, r.body);
      assert.equal(
        r.json.gateways.reduce((n: number, g: { connections: number }) => n + g.connections, 0),
        1,
      );
      await waitRec('a trace start line on every gateway', (x) => x.msg === 'client trace started' && x.clientId === T, gateways().length);

      const traced = (pred: (r: Rec) => boolean) => find((x) => x.msg === 'client trace' && pred(x));
      await subscribe(t, `${mode}/trace/t/#`, { qos: 1 });
      await publish(t, `${mode}/trace/t/x`, PAYLOAD, { qos: 1 });
      await publish(o, `${mode}/trace/o`, 'from the other client', { qos: 1 });
      await waitFor(() => traced((x) => x.dir === 'in' && x.type === 'publish' && x.topic === `${mode}/trace/t/x`).length === 1, 'the traced PUBLISH in', 30_000);
      const [pubIn] = traced((x) => x.dir === 'in' && x.type === 'publish');
      assert.equal(pubIn!.rec.clientId, T);
      assert.equal(pubIn!.rec.qos, 1);
      assert.equal(pubIn!.rec.payloadBytes, Buffer.byteLength(PAYLOAD));
      assert.equal(typeof pubIn!.rec.packetId, 'number');
      assert.equal(pubIn!.rec.retain, false);
      await waitFor(() => traced((x) => x.dir === 'out' && x.type === 'puback' && x.packetId === pubIn!.rec.packetId).length === 1, 'the traced PUBACK out', 30_000);
      // Its own message comes back (it subscribed): PUBLISH out, then its PUBACK in.
      await waitFor(() => traced((x) => x.dir === 'out' && x.type === 'publish' && x.topic === `${mode}/trace/t/x`).length === 1, 'the traced PUBLISH out', 30_000);
      await waitFor(() => traced((x) => x.dir === 'in' && x.type === 'puback').length >= 1, 'the traced PUBACK in', 30_000);
      const [sub] = traced((x) => x.dir === 'in' && x.type === 'subscribe');
      assert.deepEqual(sub!.rec.subscriptions, [{ topic: `${mode}/trace/t/#`, qos: 1 }]);
      const [suback] = traced((x) => x.dir === 'out' && x.type === 'suback');
      assert.deepEqual(suback!.rec.granted, [1]);

      // A connection of the traced client made during the window (another gateway in a cluster).
      const t2 = await f.pool.connect(f.broker.url(1), { clientId: T, protocolVersion: 5, username: 'tracer', password: PASSWORD, clean: false });
      await waitFor(() => traced((x) => x.dir === 'in' && x.type === 'connect').length === 1, 'the traced CONNECT', 30_000);
      const [connect] = traced((x) => x.dir === 'in' && x.type === 'connect');
      assert.equal(connect!.rec.withPw, true);
      assert.equal(connect!.rec.username, 'tracer');
      assert.equal(connect!.proc, gateways()[1 % gateways().length]);
      await waitFor(() => traced((x) => x.dir === 'out' && x.type === 'connack').length === 1, 'the traced CONNACK', 30_000);

      // Another client's packets are never traced.
      await barrier(0);
      assert.deepEqual(
        traced((x) => x.clientId !== T),
        [],
      );
      assert.deepEqual(
        traced((x) => x.topic === `${mode}/trace/o`),
        [],
      );

      // A short window replaces the long one and ends by itself; nothing is traced after it.
      const short = await api('POST', `/api/v1/clients/${T}/trace`, { seconds: 1 });
      assert.equal(short.status, 200, short.body);
      const ended = await waitRec('a trace end line on every gateway', (x) => x.msg === 'client trace ended' && x.clientId === T, gateways().length);
      assert.ok(ended.every((x) => typeof x.rec.packets === 'number'));
      await publish(t2, `${mode}/trace/after`, PAYLOAD, { qos: 1 });
      await barrier(1);
      assert.deepEqual(
        traced((x) => x.topic === `${mode}/trace/after`),
        [],
        'a packet traced after the window',
      );
      assert.ok(!raw.some((l) => l.includes(PAYLOAD) || l.includes(PASSWORD)), 'a payload or a password in the log');
    });

    test('a trace longer than admin.maxTraceS or not a whole number of seconds is refused with 400', async () => {
      assert.equal((await api('POST', `/api/v1/clients/${id('x')}/trace`, { seconds: 601 })).status, 400);
      assert.equal((await api('POST', `/api/v1/clients/${id('x')}/trace`, { seconds: 1.5 })).status, 400);
      assert.equal((await api('POST', `/api/v1/clients/${id('x')}/trace`, '{bad')).status, 400);
      assert.equal((await api('GET', `/api/v1/clients/${id('x')}/trace`)).status, 405);
    });

    test('shardmq clients trace starts a trace on every gateway; bad --seconds is a usage error', async () => {
      const url = `http://127.0.0.1:${adminPort(f.broker.httpPorts)}`;
      const ok = await shardmqCli(['clients', 'trace', id('cli'), '--seconds', '2', '--url', url, '--token', TOKEN]);
      assert.equal(ok.code, 0, ok.out);
      assert.match(ok.stdout, new RegExp(`^${id('cli')}: traced for 2 s \\(until .+\\) on ${gateways().length} gateway\\(s\\), 0 open connection\\(s\\)`));
      await waitRec("the CLI trace's start line on every gateway", (x) => x.msg === 'client trace started' && x.clientId === id('cli'), gateways().length);
      const bad = await shardmqCli(['clients', 'trace', id('cli'), '--seconds', 'soon', '--url', url, '--token', TOKEN]);
      assert.equal(bad.code, 2, bad.out);
      assert.match(bad.stderr, /--seconds/);
      const tooLong = await shardmqCli(['clients', 'trace', id('cli'), '--seconds', '601', '--url', url, '--token', TOKEN]);
      assert.equal(tooLong.code, 1, tooLong.out);
      assert.match(tooLong.stderr, /admin\.maxTraceS/);
      const help = await shardmqCli(['clients', '--help']);
      assert.match(help.stdout, /trace <client-id> \[--seconds n\]/);
    });
  });
}
