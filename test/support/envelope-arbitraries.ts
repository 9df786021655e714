import fc from 'fast-check';
import { ControlType, decodeGatewayOut, encodeGatewayOut, GwOut, type GatewayOutItem } from '../../common/src/envelope/gateway-out.js';
import { decodeHeartbeat, encodeHeartbeat } from '../../common/src/envelope/heartbeat.js';
import { RingQueue } from '../../common/src/ring-queue.js';
import { decodeSession, encodeSession } from '../../session-actor/src/core/session-codec.js';
import { messageBytes, type Message, type MessageProps, type QoS, type UserProperties } from '../../common/src/envelope/message.js';
import {
  decodeRetainedAnswer,
  decodeRetainedSync,
  decodeRoutePublish,
  decodeSubChanges,
  encodeRetainedAnswer,
  encodeRetainedSync,
  encodeRoutePublish,
  encodeSubChanges,
  SubOp,
  type RetainedAnswer,
  type RetainedSync,
  type RoutePublish,
  type SubChange,
  type SubChangeBatch,
} from '../../common/src/envelope/router.js';
import {
  decodeConnectReply,
  decodeSessionIn,
  encodeConnectReply,
  encodeSessionIn,
  LostReason,
  SessIn,
  type ConnectReply,
  type DeliveryTarget,
  type SessionInEnv,
  type SubscriptionRequest,
} from '../../common/src/envelope/session-in.js';
import type { Heartbeat } from '../../common/src/envelope/heartbeat.js';
import { createSession, type Delivery, type Inflight, inboundQos2ToAdd, inflightToAdd, type Session, type SessionSub, subsToAdd } from '../../session-actor/src/core/session.js';

/**
 * fast-check arbitraries for every bus envelope and for a stored Session: values exactly as
 * their encoders accept and their decoders return them (optional fields absent, never
 * `undefined`), so `decode(encode(x))` must deep-equal `x`. Shared by the round-trip
 * properties and the decoder fuzzer (which mutates their encodings). Tests only.
 */

/** fc.record with ordinary prototypes (decoders build plain objects; deepStrictEqual compares prototypes). */
const rec = ((model: unknown, opts?: object) => fc.record(model as never, { ...opts, noNullPrototype: true } as never)) as typeof fc.record;

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Any Unicode text (no lone surrogates: they have no UTF-8 form), short. */
export const text = fc.string({ unit: 'binary', maxLength: 12 });
export const qos = fc.constantFrom<QoS>(0, 1, 2);
const buf = (maxLength: number) => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b));
const shortList = <T>(a: fc.Arbitrary<T>, maxLength = 4) => fc.array(a, { maxLength });

/** A value list of one key has at least two entries (one value is encoded as a plain string). */
const userProperties: fc.Arbitrary<UserProperties> = fc
  .array(fc.tuple(fc.oneof(text, fc.constantFrom('__proto__', 'constructor', 'toString')), fc.oneof(text, fc.array(text, { minLength: 2, maxLength: 3 }))), { maxLength: 4 })
  .map((pairs) => {
    const o: UserProperties = {};
    for (const [k, v] of pairs) Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
    return o;
  });

const props: fc.Arbitrary<MessageProps> = rec(
  {
    payloadFormatIndicator: fc.boolean(),
    expiresAt: fc.maxSafeNat(),
    contentType: text,
    responseTopic: text,
    correlationData: buf(8),
    userProperties,
  },
  { requiredKeys: [] },
);

export const message: fc.Arbitrary<Message> = rec({ topic: text, payload: buf(24), qos, retain: fc.boolean(), origin: text, props }, { requiredKeys: ['topic', 'payload', 'qos', 'retain', 'origin'] });

const subRequest: fc.Arbitrary<SubscriptionRequest> = rec({
  filter: text,
  qos,
  noLocal: fc.boolean(),
  retainAsPublished: fc.boolean(),
  retainHandling: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
  rc: u8,
});

const target: fc.Arbitrary<DeliveryTarget> = rec(
  { key: text, qos, retainAsPublished: fc.boolean(), subIds: shortList(u32), group: text },
  { requiredKeys: ['key', 'qos', 'retainAsPublished', 'subIds'] },
);

/** Session expiry includes 0xFFFFFFFF ("never expires"), a value a sentinel once swallowed. */
const expiry = fc.oneof(u32, fc.constant(0xffffffff));

export const sessionIn: fc.Arbitrary<SessionInEnv> = fc.oneof(
  rec(
    {
      kind: fc.constant(SessIn.Connect as const),
      key: text,
      mountpoint: text,
      clientId: text,
      gateway: text,
      connId: u32,
      proto: fc.constantFrom<3 | 4 | 5>(3, 4, 5),
      cleanStart: fc.boolean(),
      keepaliveS: u16,
      sessionExpiryS: expiry,
      receiveMaximum: u16,
      maxPacketBytes: u32,
      will: rec({ message, delayS: u32 }),
      username: text,
    },
    { requiredKeys: ['kind', 'key', 'mountpoint', 'clientId', 'gateway', 'connId', 'proto', 'cleanStart', 'keepaliveS', 'receiveMaximum', 'maxPacketBytes'] },
  ),
  rec({ kind: fc.constant(SessIn.Subscribe as const), key: text, epoch: u32, packetId: u16, subscriptionId: u32, subs: shortList(subRequest) }),
  rec({ kind: fc.constant(SessIn.Unsubscribe as const), key: text, epoch: u32, packetId: u16, filters: shortList(text) }),
  rec({ kind: fc.constantFrom(SessIn.PubAck, SessIn.PubRec, SessIn.PubComp, SessIn.PubRel), key: text, epoch: u32, packetId: u16, rc: u8 }),
  rec({ kind: fc.constant(SessIn.Publish2 as const), key: text, epoch: u32, packetId: u16, message }),
  rec({ kind: fc.constant(SessIn.Disconnect as const), key: text, epoch: u32, rc: u8, sessionExpiryS: expiry }, { requiredKeys: ['kind', 'key', 'epoch', 'rc'] }),
  rec({
    kind: fc.constant(SessIn.ConnLost as const),
    key: text,
    epoch: u32,
    reason: fc.constantFrom(LostReason.SocketClosed, LostReason.KeepaliveTimeout, LostReason.ProtocolError, LostReason.GatewayGone, LostReason.ServerShutdown, LostReason.Backpressure),
  }),
  rec({ kind: fc.constant(SessIn.Deliver as const), targets: shortList(target), message, id: text }, { requiredKeys: ['kind', 'targets', 'message'] }),
  rec({ kind: fc.constant(SessIn.GatewayGone as const), gateway: text }),
  rec({ kind: fc.constant(SessIn.PublishDropped as const), key: text, epoch: u32, packetId: u16 }),
) as fc.Arbitrary<SessionInEnv>;

export const connectReply: fc.Arbitrary<ConnectReply> = rec({ rc: u8, sessionPresent: fc.boolean(), epoch: u32 });

export const gatewayOutItem: fc.Arbitrary<GatewayOutItem> = fc.oneof(
  rec({ kind: fc.constant(GwOut.Packet as const), connId: u32, epoch: u32, bytes: buf(16) }),
  rec({ kind: fc.constant(GwOut.Publish as const), connId: u32, epoch: u32, packetId: u16, qos, dup: fc.boolean(), retain: fc.boolean(), subIds: shortList(u32), message }),
  rec({
    kind: fc.constant(GwOut.Control as const),
    connId: u32,
    epoch: u32,
    type: fc.constantFrom(ControlType.PubAck, ControlType.PubRec, ControlType.PubRel, ControlType.PubComp, ControlType.SubAck, ControlType.UnsubAck),
    packetId: u16,
    codes: shortList(u8),
  }),
  rec({ kind: fc.constant(GwOut.Close as const), connId: u32, epoch: u32, rc: u8 }),
);

/** A `$share` group name is never empty (`$share//f` is refused at SUBSCRIBE). */
const groupName = text.filter((g) => g !== '');

export const routePublish: fc.Arbitrary<RoutePublish> = fc.oneof(
  rec({ mountpoint: text, message }),
  rec({ mountpoint: text, message, id: text }),
  rec({ mountpoint: text, message, group: groupName, exclude: text }),
  rec({ mountpoint: text, message, group: groupName, exclude: text, id: text }),
);

const subChange: fc.Arbitrary<SubChange> = rec(
  {
    op: fc.constantFrom(SubOp.Add, SubOp.Remove, SubOp.RemoveKey, SubOp.Online, SubOp.Offline),
    key: text,
    mountpoint: text,
    filter: text,
    group: text.filter((g) => g !== ''),
    qos,
    noLocal: fc.boolean(),
    retainAsPublished: fc.boolean(),
    subId: u32,
  },
  { requiredKeys: ['op', 'key', 'mountpoint', 'filter', 'qos', 'noLocal', 'retainAsPublished', 'subId'] },
);

export const subChangeBatch: fc.Arbitrary<SubChangeBatch> = rec({ changes: shortList(subChange), retainedFor: shortList(rec({ mountpoint: text, filter: text })) });
export const retainedAnswer: fc.Arbitrary<RetainedAnswer> = rec({ items: shortList(rec({ index: u16, message })) });
export const retainedSync: fc.Arbitrary<RetainedSync> = rec({ routerId: text, mountpoint: text, message });
export const heartbeat: fc.Arbitrary<Heartbeat> = rec({ gatewayId: text, stopping: fc.boolean() });

const delivery: fc.Arbitrary<Delivery> = rec({ message, qos, retain: fc.boolean(), subIds: shortList(u32), group: text }, { requiredKeys: ['message', 'qos', 'retain', 'subIds'] });

const sessionSub: fc.Arbitrary<SessionSub> = rec(
  {
    filter: text,
    group: text.filter((g) => g !== ''),
    qos,
    noLocal: fc.boolean(),
    retainAsPublished: fc.boolean(),
    retainHandling: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
    subId: u32,
  },
  { requiredKeys: ['filter', 'qos', 'noLocal', 'retainAsPublished', 'retainHandling', 'subId'] },
);

/**
 * A Session as decodeSession returns it: derived counters (heldCount, queuedBytes) consistent,
 * only 'received' inbound QoS 2 ids (pending ones are not stored by design).
 */
export const session: fc.Arbitrary<Session> = fc
  .record({
    key: text,
    mountpoint: text,
    clientId: text,
    proto: fc.constantFrom<3 | 4 | 5>(3, 4, 5),
    incarnation: u32,
    epoch: u32,
    conn: fc.option(rec({ gateway: text, connId: u32 }), { nil: undefined }),
    expiryS: u32,
    nextPacketId: u16,
    receiveMaximum: u16,
    maxPacketBytes: u32,
    will: fc.option(rec({ message, delayS: u32 }), { nil: undefined }),
    willDueAt: fc.option(fc.maxSafeNat(), { nil: undefined }),
    expiresAt: fc.option(fc.maxSafeNat(), { nil: undefined }),
    everSubscribed: fc.boolean(),
    subs: fc.array(fc.tuple(text, sessionSub), { maxLength: 4 }),
    inflight: fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 0xffff }), delivery, fc.boolean(), fc.boolean()), { maxLength: 4, selector: (t) => t[0] }),
    queue: shortList(delivery),
    qos2: fc.uniqueArray(u16, { maxLength: 4 }),
  })
  .map((r) => {
    const s = createSession(r.key, r.mountpoint, r.clientId, r.proto, r.incarnation);
    s.epoch = r.epoch;
    if (r.conn) s.conn = r.conn;
    s.expiryS = r.expiryS;
    s.nextPacketId = r.nextPacketId;
    s.receiveMaximum = r.receiveMaximum;
    s.maxPacketBytes = r.maxPacketBytes;
    if (r.will) s.will = r.will;
    if (r.willDueAt !== undefined) s.willDueAt = r.willDueAt;
    if (r.expiresAt !== undefined) s.expiresAt = r.expiresAt;
    if (r.everSubscribed) s.everSubscribed = true;
    for (const [asSent, sub] of r.subs) subsToAdd(s).set(asSent, sub);
    for (const [packetId, d, rel, held] of r.inflight) {
      const f: Inflight = { ...d, packetId, state: rel ? 'rel' : 'pub' };
      if (held) {
        f.held = true;
        s.heldCount++;
      }
      inflightToAdd(s).set(packetId, f);
    }
    for (const d of r.queue) {
      s.queue.push(d);
      s.queuedBytes += messageBytes(d.message);
    }
    for (const id of r.qos2) inboundQos2ToAdd(s).set(id, 'received');
    return s;
  });

/** One bus or store codec: values it encodes, and its encoder and decoder over bytes. */
export interface Codec {
  readonly name: string;
  readonly values: fc.Arbitrary<unknown>;
  encode(v: unknown): Uint8Array;
  decode(b: Uint8Array): unknown;
  /** Relative weight of its runs (the larger formats get more). */
  readonly runs: number;
}

function codec<T>(name: string, values: fc.Arbitrary<T>, encode: (v: T) => Uint8Array, decode: (b: Uint8Array) => unknown, runs = 1): Codec {
  return { name, values, encode: encode as (v: unknown) => Uint8Array, decode, runs };
}

/** A session with its queue as an array (RingQueue's internal layout depends on its history). */
export function sessionView(s: Session): Omit<Session, 'queue'> & { queue: Delivery[] } {
  const items: Delivery[] = [];
  for (let i = 0; i < s.queue.length; i++) {
    const d = s.queue.shift()!;
    items.push(d);
    s.queue.push(d);
  }
  return { ...s, queue: items };
}

function sessionFromView(v: ReturnType<typeof sessionView>): Session {
  const queue = new RingQueue<Delivery>();
  for (const d of v.queue) queue.push(d);
  return { ...v, queue };
}

/** Every decoder that reads bytes from the bus or the session store, with its encoder. */
export const codecs: readonly Codec[] = [
  codec('session-in envelopes', sessionIn, encodeSessionIn, decodeSessionIn, 3),
  codec('connect reply', connectReply, encodeConnectReply, decodeConnectReply),
  codec(
    'gateway-out batches',
    fc.array(gatewayOutItem, { maxLength: 5 }),
    encodeGatewayOut,
    (b) => {
      const items: GatewayOutItem[] = [];
      decodeGatewayOut(b, (it) => items.push(it));
      return items;
    },
    2,
  ),
  codec('route publish', routePublish, encodeRoutePublish, decodeRoutePublish),
  codec('subscription change batch', subChangeBatch, encodeSubChanges, decodeSubChanges),
  codec('retained answer', retainedAnswer, encodeRetainedAnswer, decodeRetainedAnswer),
  codec('retained sync', retainedSync, encodeRetainedSync, decodeRetainedSync),
  codec('heartbeat', heartbeat, encodeHeartbeat, decodeHeartbeat),
  codec(
    'stored session',
    session.map(sessionView),
    (v) => encodeSession(sessionFromView(v)),
    (b) => sessionView(decodeSession(b)),
    2,
  ),
];
