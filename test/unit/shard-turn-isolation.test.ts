import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createMemoryBus, type Bus } from '../../common/src/bus/index.js';
import { loadConfig } from '../../common/src/config/load-config.js';
import type { Config } from '../../common/src/config/settings.js';
import { decodeGatewayOut, GwOut, type GatewayOutItem } from '../../common/src/envelope/gateway-out.js';
import { decodeStatusSafe } from '../../common/src/envelope/router.js';
import { decodeConnectReply, encodeSessionIn, SessIn, type SessionInEnv } from '../../common/src/envelope/session-in.js';
import { createLogger } from '../../common/src/log.js';
import { Metrics } from '../../common/src/metrics.js';
import { shardOf } from '../../common/src/shard.js';
import { subjectSpace } from '../../common/src/subjects.js';
import { SessionService } from '../../session-actor/src/session-service.js';
import { eventually, metricValue } from '../support/auth-harness.js';
import { msg } from '../support/session-core-harness.js';

// Shard-turn isolation: when the pure core throws in one session's turn (simulated by a session
// whose subscriptions cannot be read), that turn fails visibly (metric, log with stack), the
// requester is refused, the session's connection is closed, and every other session and shard
// keeps working. The session service runs on the in-memory bus, driven like a gateway drives it.

const subjects = subjectSpace();
let bus: Bus;
let svc: SessionService;
let config: Config;
const metrics = new Metrics(false);
const logs: string[] = [];
const out: GatewayOutItem[] = [];

function request(key: string, e: SessionInEnv) {
  return bus.request(subjects.sessionIn(shardOf(key, config.shards)), encodeSessionIn(e), { timeoutMs: 30_000 });
}

async function connect(clientId: string, connId: number) {
  const r = await request(clientId, {
    kind: SessIn.Connect,
    key: clientId,
    mountpoint: '',
    clientId,
    gateway: 'gw1',
    connId,
    proto: 5,
    cleanStart: false,
    keepaliveS: 60,
    sessionExpiryS: 3600,
    receiveMaximum: 10,
    maxPacketBytes: 0,
  });
  return decodeConnectReply(r.data);
}

before(async () => {
  config = loadConfig({ env: { SHARDMQ_SHARDS: '8' }, argv: [] });
  bus = createMemoryBus();
  svc = SessionService.create(config, { bus, subjects, metrics, log: createLogger('debug', {}, (l) => logs.push(l)) });
  await svc.start();
  bus.subscribe(subjects.gatewayOut('gw1'), (m) => decodeGatewayOut(m.data, (it) => out.push(it)));
});

after(async () => {
  await svc.stop();
  await bus.close();
});

test('a turn in which the core throws is refused and counted, closes that connection, and other sessions go on', async () => {
  const bad = await connect('victim', 1);
  assert.equal(bad.rc, 0);
  // Every access to this session's subscriptions, window and queue throws, as a core bug would.
  const s = svc.shardState(shardOf('victim', config.shards))!.sessions.get('victim')!;
  for (const field of ['subs', 'inflight', 'queue'])
    Object.defineProperty(s, field, {
      get: () => {
        throw new Error('injected core fault');
      },
    });

  const sub = await request('victim', {
    kind: SessIn.Subscribe,
    key: 'victim',
    epoch: bad.epoch,
    packetId: 1,
    subscriptionId: 0,
    subs: [{ filter: 'a/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, rc: 0xff }],
  });
  assert.equal(decodeStatusSafe(sub.data), 0x80, 'the requester is refused');
  await eventually('the connection closed', async () => out.some((it) => it.kind === GwOut.Close && it.connId === 1 && it.rc === 0x80));
  assert.equal(await metricValue(metrics, 'shardmq_session_turn_failures_total', { entry: 'subscribe' }), 1);
  const line = logs.find((l) => l.includes('session turn failed'));
  assert.ok(line);
  assert.match((JSON.parse(line) as { stack: string }).stack, /injected core fault/);

  // A router's Deliver into the failing session is refused, and so is its retry (same id):
  // the failed turn's id is not remembered as delivered.
  const deliver: SessionInEnv = { kind: SessIn.Deliver, targets: [{ key: 'victim', qos: 1, retainAsPublished: false, subIds: [] }], message: msg('a/b', 'x', 1), id: 'r1-1' };
  assert.equal(decodeStatusSafe((await request('victim', deliver)).data), 0x80);
  assert.equal(decodeStatusSafe((await request('victim', deliver)).data), 0x80, 'a retry is not taken for a duplicate');

  // Other sessions, on this shard and others, are untouched.
  for (let i = 0; i < 12; i++) {
    const ok = await connect(`healthy-${i}`, 100 + i);
    assert.equal(ok.rc, 0, `healthy-${i} connects`);
  }
  const healthy = await request('healthy-0', {
    kind: SessIn.Deliver,
    targets: [{ key: 'healthy-0', qos: 1, retainAsPublished: false, subIds: [] }],
    message: msg('a/b', 'y', 1),
    id: 'r1-2',
  });
  assert.equal(decodeStatusSafe(healthy.data), 0, 'a delivery to a healthy session is accepted');
});
