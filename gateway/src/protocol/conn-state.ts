import type { ClientAcl } from '../../../auth-service/src/acl/acl-types.js';
import type { GatewayOutItem } from '../../../common/src/envelope/gateway-out.js';
import type { ProtocolVersion } from '../../../common/src/envelope/session-in.js';
import { RingQueue } from '../../../common/src/ring-queue.js';
import type { Packet } from 'mqtt-packet';

/** An inbound QoS 1 PUBLISH waiting for its PUBACK, kept in arrival order [MQTT-4.6.0-2]. */
export interface PendingAck {
  packetId: number;
  /** Reason code once known; -1 while the router has not answered. */
  rc: number;
}

export type Phase = 'new' | 'connecting' | 'connected' | 'closed';

/**
 * Everything the gateway knows about one connection. Pure data: the protocol handlers mutate
 * it; only connection.ts ties it to a socket.
 */
export interface ConnState {
  readonly id: number;
  readonly peer: string;
  readonly mountpoint: string;
  phase: Phase;
  proto: ProtocolVersion;
  clientId: string;
  key: string;
  shard: number;
  epoch: number;
  openedAt: number;
  lastRxAt: number;
  /** Keepalive in ms; 0 disables the check [MQTT-3.1.2-10]. */
  keepaliveMs: number;
  acl: ClientAcl | null;
  /** MQTT 5 Session Expiry Interval from CONNECT (DISCONNECT may not raise it from 0). */
  sessionExpiryS: number;
  requestProblemInfo: boolean;
  /** Inbound topic aliases (MQTT 5), per connection [MQTT-3.3.2-10]. */
  aliasesIn: Map<number, string>;
  /** Outbound topic aliases we assigned, up to the client's Topic Alias Maximum. */
  aliasesOut: Map<string, number>;
  clientAliasMax: number;
  /** Client's Maximum Packet Size (0: none). */
  clientMaxPacketBytes: number;
  acks: RingQueue<PendingAck>;
  /** Inbound QoS 2 packet ids between PUBLISH and PUBREL (counts against Receive Maximum). */
  qos2In: Set<number>;
  /** Packets that arrived after CONNECT, before CONNACK (clients may send them at once). */
  pendingIn: Packet[];
  /** Session output that arrived before CONNACK was written. */
  pendingOut: GatewayOutItem[];
  /** The client sent DISCONNECT: the session already knows, no ConnLost. */
  cleanlyDisconnected: boolean;
  /** User name of the CONNECT (for per-message authorization requests). */
  username?: string;
  /** True while a per-message authorization answer is awaited: input waits in pendingIn. */
  holding: boolean;
  /** Per-message authorization answers by topicKey (topic-authorization.ts), created on first use. */
  topicVerdicts?: Map<string, { allow: boolean; until: number }>;
}

export function createConnState(id: number, peer: string, mountpoint: string, now: number): ConnState {
  return {
    id,
    peer,
    mountpoint,
    phase: 'new',
    proto: 4,
    clientId: '',
    key: '',
    shard: 0,
    epoch: 0,
    openedAt: now,
    lastRxAt: now,
    keepaliveMs: 0,
    acl: null,
    sessionExpiryS: 0,
    requestProblemInfo: true,
    aliasesIn: new Map(),
    aliasesOut: new Map(),
    clientAliasMax: 0,
    clientMaxPacketBytes: 0,
    acks: new RingQueue(),
    qos2In: new Set(),
    pendingIn: [],
    pendingOut: [],
    cleanlyDisconnected: false,
    holding: false,
  };
}
