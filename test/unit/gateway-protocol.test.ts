import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Packet } from 'mqtt-packet';
import type { AuthReply } from '../../common/src/auth-contract/auth-protocol.js';
import type { Message } from '../../common/src/envelope/message.js';
import { SessIn, type ConnectEnv, type ConnectReply, type SessionInEnv } from '../../common/src/envelope/session-in.js';
import { createConnState, type ConnState } from '../../gateway/src/protocol/conn-state.js';
import { handlePacket } from '../../gateway/src/protocol/handle-packet.js';
import type { PacketFault } from '../../gateway/src/protocol/packet-fault.js';
import type { GatewayLimits, GatewayPorts } from '../../gateway/src/protocol/ports.js';
import { ROUTE_SLOW } from '../../common/src/envelope/router.js';

/** The gateway's protocol state machine driven without sockets: a fake GatewayPorts records everything. */
class FakePorts implements GatewayPorts {
  readonly limits: GatewayLimits = {
    maxPacketBytes: 1000,
    maxClientIdLength: 64,
    maxTopicLevels: 8,
    maxTopicAlias: 4,
    receiveMaximum: 2,
    maxKeepaliveS: 60,
    maxSessionExpiryS: 3600,
    unauthorizedPublish: 'drop',
    allowWildcardSubscriptions: true,
  };
  readonly gatewayId = 'gw1';
  readonly shards = 16;
  sent: Packet[] = [];
  closed: Array<number | undefined> = [];
  toSess: SessionInEnv[] = [];
  routed: Message[] = [];
  routeAnswers: Array<(code: number) => void> = [];
  auth: AuthReply = { result: 'ok', acl: null };
  now = () => 1000;
  send = (_c: ConnState, p: Packet) => void this.sent.push(p);
  close = (c: ConnState, rc: number | undefined) => {
    this.closed.push(rc);
    c.phase = 'closed';
  };
  toSession = (_c: ConnState, e: SessionInEnv) => void this.toSess.push(e);
  connectSession = async (_e: ConnectEnv): Promise<ConnectReply> => ({ rc: 0, sessionPresent: false, epoch: 7 });
  authenticate = async () => this.auth;
  route = (_c: ConnState, m: Message, ack: boolean) => {
    this.routed.push(m);
    if (!ack) return undefined;
    return new Promise<number>((resolve) => this.routeAnswers.push(resolve));
  };
  refused: string[] = [];
  faults: unknown[] = [];
  refuse = (c: ConnState, f: PacketFault) => {
    this.refused.push(f.what);
    this.close(c, f.rc);
  };
  fault = (c: ConnState, err: unknown) => {
    this.faults.push(err);
    this.close(c, 0x83);
  };
  slowed: Array<() => void> = [];
  slowDown = () => new Promise<void>((r) => this.slowed.push(r));
  count = () => {};
  newClientId = () => 'assigned-1';
  authRefusals: string[] = [];
  authRefused = (_c: ConnState, _username: string | undefined, reason: string) => void this.authRefusals.push(reason);
  connected = (c: ConnState) => {
    for (const p of c.pendingIn.splice(0)) handlePacket(c, p, this);
  };
}

async function connected(proto: 4 | 5 = 5, auth?: AuthReply) {
  const ports = new FakePorts();
  if (auth) ports.auth = auth;
  const c = createConnState(1, 'peer', '', 0);
  handlePacket(c, { cmd: 'connect', clientId: 'dev1', protocolVersion: proto, clean: true, keepalive: 30 } as Packet, ports);
  await new Promise((r) => setImmediate(r));
  assert.equal(c.phase, 'connected');
  ports.sent = [];
  return { c, ports };
}

const pub = (topic: string, qos: 0 | 1 | 2, messageId?: number, extra: object = {}) =>
  ({ cmd: 'publish', topic, payload: Buffer.from('x'), qos, retain: false, dup: false, messageId, ...extra }) as Packet;

test('[MQTT-3.1.0-1] a packet before CONNECT closes the connection', () => {
  const ports = new FakePorts();
  const c = createConnState(1, 'peer', '', 0);
  handlePacket(c, pub('a', 0), ports);
  assert.equal(c.phase, 'closed');
  assert.equal(ports.toSess.length, 0);
});

test('[MQTT-3.1.0-2] a second CONNECT closes the connection with 0x82', async () => {
  const { c, ports } = await connected();
  handlePacket(c, { cmd: 'connect', clientId: 'dev1', protocolVersion: 5 } as Packet, ports);
  assert.deepEqual(ports.closed, [0x82]);
});

test('CONNACK carries the epoch-bound session and MQTT 5 limits; an empty client id is assigned', async () => {
  const ports = new FakePorts();
  const c = createConnState(1, 'peer', '', 0);
  handlePacket(c, { cmd: 'connect', clientId: '', protocolVersion: 5, clean: true, keepalive: 600 } as Packet, ports);
  await new Promise((r) => setImmediate(r));
  const ack = ports.sent[0] as Packet & { properties: Record<string, unknown>; reasonCode: number };
  assert.equal(ack.cmd, 'connack');
  assert.equal(ack.reasonCode, 0);
  assert.equal(ack.properties.assignedClientIdentifier, 'assigned-1');
  assert.equal(ack.properties.serverKeepAlive, 60, '[MQTT-3.2.2-21] keepalive capped');
  assert.equal(ack.properties.receiveMaximum, 2);
  assert.equal(c.epoch, 7);
});

test('[MQTT-3.3.2-2] a PUBLISH with a wildcard topic closes with 0x90 and routes nothing', async () => {
  const { c, ports } = await connected();
  handlePacket(c, pub('a/+', 0), ports);
  assert.deepEqual(ports.closed, [0x90]);
  assert.equal(ports.routed.length, 0);
});

test('[MQTT-4.6.0-2] PUBACKs go out in arrival order even when the router answers out of order', async () => {
  const { c, ports } = await connected(4);
  handlePacket(c, pub('t', 1, 1), ports);
  handlePacket(c, pub('t', 1, 2), ports);
  handlePacket(c, pub('t', 1, 3), ports);
  ports.routeAnswers[2]!(0);
  ports.routeAnswers[1]!(0);
  await new Promise((r) => setImmediate(r));
  assert.equal(ports.sent.length, 0, 'nothing before the first is answered');
  ports.routeAnswers[0]!(0);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    ports.sent.map((p) => (p as { messageId?: number }).messageId),
    [1, 2, 3],
  );
});

test('a router answer "accepted, slow down" (a subscriber queue past its bounds) holds the PUBACK, and those after it, until the slow-down ends', async () => {
  const { c, ports } = await connected(5);
  handlePacket(c, pub('t', 1, 1), ports);
  handlePacket(c, pub('t', 1, 2), ports);
  ports.routeAnswers[0]!(ROUTE_SLOW);
  ports.routeAnswers[1]!(0);
  await new Promise((r) => setImmediate(r));
  assert.equal(ports.slowed.length, 1, 'the connection was slowed');
  assert.equal(ports.sent.length, 0, 'no PUBACK while slowed');
  ports.slowed[0]!();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    ports.sent.map((p) => [(p as { messageId?: number }).messageId, (p as { reasonCode?: number }).reasonCode ?? 0]),
    [
      [1, 0],
      [2, 0],
    ],
    'accepted: reason 0, in order',
  );
});

test('[MQTT-3.3.4-7] an MQTT 5 client exceeding Receive Maximum is closed with 0x93; 3.1.1 is not limited', async () => {
  const v5 = await connected(5);
  for (let i = 1; i <= 3; i++) handlePacket(v5.c, pub('t', 1, i), v5.ports);
  assert.deepEqual(v5.ports.closed, [0x93]);
  const v4 = await connected(4);
  for (let i = 1; i <= 3; i++) handlePacket(v4.c, pub('t', 1, i), v4.ports);
  assert.deepEqual(v4.ports.closed, []);
  assert.equal(v4.ports.routed.length, 3);
});

test('an ACL-denied QoS 1 publish gets PUBACK 0x87 in MQTT 5 and is not routed', async () => {
  const acl = { publish: [{ pattern: 'allowed/#', wildcard: true, maxQos: 2 as const, maxPayloadBytes: 1000, allowedRetain: true }], subscribe: [] };
  const { c, ports } = await connected(5, { result: 'ok', acl });
  handlePacket(c, pub('denied/x', 1, 9), ports);
  await new Promise((r) => setImmediate(r));
  assert.equal(ports.routed.length, 0);
  assert.deepEqual(
    ports.sent.map((p) => [p.cmd, (p as { reasonCode?: number }).reasonCode]),
    [['puback', 0x87]],
  );
});

test('MQTT 5 topic alias: set, then reuse with an empty topic; an alias above the maximum closes with 0x94', async () => {
  const { c, ports } = await connected(5);
  handlePacket(c, pub('long/topic', 0, undefined, { properties: { topicAlias: 1 } }), ports);
  handlePacket(c, pub('', 0, undefined, { properties: { topicAlias: 1 } }), ports);
  assert.deepEqual(
    ports.routed.map((m) => m.topic),
    ['long/topic', 'long/topic'],
  );
  handlePacket(c, pub('x', 0, undefined, { properties: { topicAlias: 5 } }), ports);
  assert.deepEqual(ports.closed, [0x94]);
});

test('[MQTT-3.8.3-4] No Local on a shared subscription is a protocol error; an invalid filter gets 0x8F', async () => {
  const { c, ports } = await connected(5);
  handlePacket(c, { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#/b', qos: 1 }] } as Packet, ports);
  const env = ports.toSess[0]!;
  assert.equal(env.kind, SessIn.Subscribe);
  assert.equal(env.kind === SessIn.Subscribe && env.subs[0]!.rc, 0x8f);
  handlePacket(c, { cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '$share/g/t', qos: 1, nl: true }] } as Packet, ports);
  assert.deepEqual(ports.closed, [0x82]);
});

test('[MQTT-3.14.2-2] DISCONNECT raising a zero Session Expiry Interval is a protocol error', async () => {
  const { c, ports } = await connected(5);
  handlePacket(c, { cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 10 } } as Packet, ports);
  assert.deepEqual(ports.closed, [0x82]);
  assert.equal(
    ports.toSess.some((e) => e.kind === SessIn.Disconnect),
    false,
  );
});

test('a CONNECT refused by authentication, or whose Will the ACL denies, is reported for the auth_refused event', async () => {
  const ports = new FakePorts();
  ports.auth = { result: 'bad-credentials', acl: null };
  const c = createConnState(1, 'peer', '', 0);
  handlePacket(c, { cmd: 'connect', clientId: 'dev1', protocolVersion: 5, clean: true, keepalive: 30, username: 'u', password: Buffer.from('p') } as Packet, ports);
  await new Promise((r) => setImmediate(r));
  assert.equal(c.phase, 'closed');
  assert.deepEqual(ports.authRefusals, ['bad-credentials']);

  const p2 = new FakePorts();
  p2.auth = { result: 'ok', acl: { publish: [], subscribe: [] } } as unknown as AuthReply;
  const c2 = createConnState(2, 'peer', '', 0);
  handlePacket(c2, { cmd: 'connect', clientId: 'dev2', protocolVersion: 4, clean: true, keepalive: 30, will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false } } as Packet, p2);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(p2.authRefusals, ['will_acl']);
});
