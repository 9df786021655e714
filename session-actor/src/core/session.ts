import { type Message, type QoS, type ProtocolVersion, type Will, RingQueue } from '../../../common/src/index.js';

/** A subscription as the session remembers it (the router holds the index copy). */
export interface SessionSub {
  /** Filter without `$share/<group>/`. */
  filter: string;
  group?: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subId: number;
}

/** A delivery owed to the client: queued, or inflight with a packet id. */
export interface Delivery {
  message: Message;
  qos: QoS;
  retain: boolean;
  subIds: number[];
  /** The `$share` group it came through, if any. */
  group?: string;
  /**
   * The id of the router's Deliver that brought it (QoS 1/2 copies). Kept in the session log,
   * so the next owner of the shard knows a router's retry of that Deliver for a duplicate.
   */
  from?: string;
}

export interface Inflight extends Delivery {
  packetId: number;
  /** 'pub': PUBLISH sent, awaiting PUBACK/PUBREC; 'rel': PUBREL sent, awaiting PUBCOMP. */
  state: 'pub' | 'rel';
  /** Owed a resend after reconnect, held back while the client's Receive Maximum is full. */
  held?: boolean;
}

export interface Connection {
  gateway: string;
  connId: number;
}

/**
 * One MQTT session. Runs on the shard owner only; mutated only by the core handlers.
 * Will and expiry deadlines are absolute ms so a new owner can re-arm them.
 */
export interface Session {
  readonly key: string;
  readonly mountpoint: string;
  readonly clientId: string;
  /** Unique per session lifetime: answers meant for an ended session never touch its successor. */
  readonly incarnation: number;
  proto: ProtocolVersion;
  /** Epoch of the current (or last) connection; envelopes with another epoch are stale. */
  epoch: number;
  conn?: Connection;
  /** Seconds the session outlives its connection; 0xffffffff = never expires. */
  expiryS: number;
  subs: Map<string, SessionSub>;
  /**
   * Bumped on every change of `subs` (never reset): the session store writes subscription
   * changes only when it moved, so a delivery costs nothing per subscription.
   */
  subsVersion: number;
  /** Set once a subscription change went to the routers: the session's end must clear the index. */
  everSubscribed?: boolean;
  /**
   * Per raw filter, a token of the last SUBSCRIBE/UNSUBSCRIBE that changed it, so a late
   * failure answer undoes only what nothing changed since. Transient (not persisted).
   */
  subTouch?: Map<string, number>;
  inflight: Map<number, Inflight>;
  /** Inflight entries with held = true. */
  heldCount: number;
  queue: RingQueue<Delivery>;
  queuedBytes: number;
  nextPacketId: number;
  /** Inbound QoS 2 packet ids not yet released [MQTT-4.3.3]: 'pending' while routing, then 'received'. */
  inboundQos2: Map<number, 'pending' | 'received'>;
  will?: Will;
  willDueAt?: number;
  expiresAt?: number;
  /** Client's Receive Maximum: caps our inflight window [MQTT-3.3.4-9]. */
  receiveMaximum: number;
  /** Client's Maximum Packet Size; 0 = none [MQTT-3.1.2-24]. */
  maxPacketBytes: number;
}

export const NEVER_EXPIRES = 0xffffffff;

/**
 * The empty collection a new session starts with for its subscriptions, in-flight deliveries and
 * inbound QoS 2 ids. Most sessions (idle devices) never add to some of them, and an empty Map costs
 * 184 bytes, so all sessions share this one until they add an entry. Shared, it must stay empty:
 * set() throws (reading, delete and clear on it are harmless); the *ToAdd functions below give a
 * session its own Map first. Runs on the session owner.
 */
class SharedEmptyMap<K, V> extends Map<K, V> {
  override set(): this {
    throw new Error('the shared empty session Map was written to: use subsToAdd / inflightToAdd / inboundQos2ToAdd');
  }
}
const EMPTY = new SharedEmptyMap<never, never>();

function empty<K, V>(): Map<K, V> {
  return EMPTY as Map<K, V>;
}

/** The session's subscriptions, as a Map of its own that may be added to. */
export function subsToAdd(s: Session): Map<string, SessionSub> {
  return s.subs === EMPTY ? (s.subs = new Map()) : s.subs;
}

/** The session's in-flight deliveries, as a Map of its own that may be added to. */
export function inflightToAdd(s: Session): Map<number, Inflight> {
  return s.inflight === EMPTY ? (s.inflight = new Map()) : s.inflight;
}

/** The session's inbound QoS 2 ids, as a Map of its own that may be added to. */
export function inboundQos2ToAdd(s: Session): Map<number, 'pending' | 'received'> {
  return s.inboundQos2 === EMPTY ? (s.inboundQos2 = new Map()) : s.inboundQos2;
}

export function createSession(key: string, mountpoint: string, clientId: string, proto: ProtocolVersion, incarnation: number): Session {
  return {
    key,
    mountpoint,
    clientId,
    incarnation,
    proto,
    epoch: 0,
    expiryS: 0,
    subs: empty(),
    subsVersion: 0,
    inflight: empty(),
    heldCount: 0,
    queue: new RingQueue(),
    queuedBytes: 0,
    nextPacketId: 1,
    inboundQos2: empty(),
    receiveMaximum: 65535,
    maxPacketBytes: 0,
  };
}

/** Sets (or with sub = undefined removes) one subscription; the only way core code changes `subs`. */
export function setSub(s: Session, raw: string, sub: SessionSub | undefined): void {
  if (sub) subsToAdd(s).set(raw, sub);
  else s.subs.delete(raw);
  s.subsVersion++;
}
