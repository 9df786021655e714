import { type ClientAcl, type GatewayOutItem, type ProtocolVersion, RingQueue } from '../../../common/src/index.js';
import type { Packet } from 'mqtt-packet';
import { fromTicks, toTicks } from './coarse-time.js';

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
 *
 * Memory per idle connection is what decides how many devices a gateway holds, and most
 * connections never use topic aliases, QoS 1/2 in-flight state or early packets: those
 * collections are created on first use (an empty Map costs ~200 bytes), behind getters so
 * the handlers read them as plain fields.
 */
export class ConnState {
  phase: Phase = 'new';
  proto: ProtocolVersion = 4;
  clientId = '';
  key = '';
  shard = 0;
  epoch = 0;
  /** When the last packet arrived and when the connection opened, in coarse-time.ts ticks (small integers, no heap number each). */
  private rxTick: number;
  private readonly openedTick: number;
  /** Keepalive in ms; 0 disables the check [MQTT-3.1.2-10]. */
  keepaliveMs = 0;
  /** Shared between connections with the same rules (acl-intern.ts): never mutated. */
  acl: ClientAcl | null = null;
  /** The CONNECT's Clean Start (5.0) / Clean Session (3.1.1) flag (for the connect log line). */
  cleanStart = true;
  /** MQTT 5 Session Expiry Interval from CONNECT (DISCONNECT may not raise it from 0). */
  sessionExpiryS = 0;
  requestProblemInfo = true;
  clientAliasMax = 0;
  /** Client's Maximum Packet Size (0: none). */
  clientMaxPacketBytes = 0;
  /** The client sent DISCONNECT: the session already knows, no ConnLost. */
  cleanlyDisconnected = false;
  /** User name of the CONNECT, or of the client certificate (for per-message authorization requests). */
  username?: string;
  /**
   * Set at accept when the listener takes the user name from the verified client certificate
   * (mqtt.tlsCertIdentityAsUsername): that name, or '' when the certificate names none.
   */
  certUsername?: string;
  /** True while a per-message authorization answer is awaited: input waits in pendingIn. */
  holding = false;
  /** The collections created on first use, behind one field (see RareState). */
  private rare?: RareState;

  constructor(
    readonly id: number,
    readonly peer: string,
    readonly mountpoint: string,
    openedAt: number,
  ) {
    this.openedTick = this.rxTick = toTicks(openedAt);
  }

  /** When the connection opened (ms since the epoch, rounded up to 125 ms): the connect timeout counts from it. */
  get openedAt(): number {
    return fromTicks(this.openedTick);
  }

  /** When the last packet arrived (ms since the epoch, rounded up to 125 ms): the keepalive counts from it. */
  get lastRxAt(): number {
    return fromTicks(this.rxTick);
  }

  set lastRxAt(ms: number) {
    this.rxTick = toTicks(ms);
  }

  private get r(): RareState {
    return (this.rare ??= new RareState());
  }

  /** Per-message authorization answers by topicKey (topic-authorization.ts); undefined until the first one. */
  get topicVerdicts(): Map<string, TopicVerdict> | undefined {
    return this.rare?.topicVerdicts;
  }

  /** The per-message authorization cache, created on first use. */
  get topicVerdictCache(): Map<string, TopicVerdict> {
    return (this.r.topicVerdicts ??= new Map());
  }

  /** Inbound topic aliases (MQTT 5), per connection [MQTT-3.3.2-10]. */
  get aliasesIn(): Map<number, string> {
    return (this.r.aliasesIn ??= new Map());
  }

  /** Outbound topic aliases we assigned, up to the client's Topic Alias Maximum. */
  get aliasesOut(): Map<string, number> {
    return (this.r.aliasesOut ??= new Map());
  }

  /** Inbound QoS 1 publishes waiting for their PUBACK, in arrival order [MQTT-4.6.0-2]. */
  get acks(): RingQueue<PendingAck> {
    return (this.r.acks ??= new RingQueue(4));
  }

  /** Inbound QoS 2 packet ids between PUBLISH and PUBREL (counts against Receive Maximum). */
  get qos2In(): Set<number> {
    return (this.r.qos2In ??= new Set());
  }

  /** Packets that arrived after CONNECT, before CONNACK (clients may send them at once). */
  get pendingIn(): Packet[] {
    return (this.r.pendingIn ??= []);
  }

  /** Session output that arrived before CONNACK was written. */
  get pendingOut(): GatewayOutItem[] {
    return (this.r.pendingOut ??= []);
  }

  /** Inbound publishes not yet acknowledged to the client (QoS 1 and 2), without creating the collections. */
  get inFlightIn(): number {
    const r = this.rare;
    return r === undefined ? 0 : (r.acks?.length ?? 0) + (r.qos2In?.size ?? 0);
  }

  /** Takes what waited for CONNACK (session output, early packets) and forgets it. */
  takeEarly(): { out: GatewayOutItem[] | undefined; early: Packet[] | undefined } {
    const r = this.rare;
    if (r === undefined) return { out: undefined, early: undefined };
    const taken = { out: r.pendingOut, early: r.pendingIn };
    r.pendingOut = undefined;
    r.pendingIn = undefined;
    return taken;
  }
}

/** A cached per-message authorization answer (topic-authorization.ts). */
export interface TopicVerdict {
  allow: boolean;
  until: number;
}

/**
 * What only some connections use (topic aliases, QoS 1/2 inbound state, packets and output around
 * CONNACK, per-message authorization answers), each created on first use. Kept together so an idle
 * connection pays one field for all of them (8 bytes, not 56); the object itself is created by the
 * first collection a connection needs.
 */
class RareState {
  topicVerdicts?: Map<string, TopicVerdict>;
  aliasesIn?: Map<number, string>;
  aliasesOut?: Map<string, number>;
  acks?: RingQueue<PendingAck>;
  qos2In?: Set<number>;
  pendingIn?: Packet[];
  pendingOut?: GatewayOutItem[];
}

export function createConnState(id: number, peer: string, mountpoint: string, now: number): ConnState {
  return new ConnState(id, peer, mountpoint, now);
}
