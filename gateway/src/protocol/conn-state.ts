import { type ClientAcl, type GatewayOutItem, type ProtocolVersion, RingQueue } from '../../../common/src/index.js';
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
  lastRxAt: number;
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
  /** Per-message authorization answers by topicKey (topic-authorization.ts), created on first use. */
  topicVerdicts?: Map<string, { allow: boolean; until: number }>;
  private _aliasesIn?: Map<number, string>;
  private _aliasesOut?: Map<string, number>;
  private _acks?: RingQueue<PendingAck>;
  private _qos2In?: Set<number>;
  private _pendingIn?: Packet[];
  private _pendingOut?: GatewayOutItem[];

  constructor(
    readonly id: number,
    readonly peer: string,
    readonly mountpoint: string,
    readonly openedAt: number,
  ) {
    this.lastRxAt = openedAt;
  }

  /** Inbound topic aliases (MQTT 5), per connection [MQTT-3.3.2-10]. */
  get aliasesIn(): Map<number, string> {
    return (this._aliasesIn ??= new Map());
  }

  /** Outbound topic aliases we assigned, up to the client's Topic Alias Maximum. */
  get aliasesOut(): Map<string, number> {
    return (this._aliasesOut ??= new Map());
  }

  /** Inbound QoS 1 publishes waiting for their PUBACK, in arrival order [MQTT-4.6.0-2]. */
  get acks(): RingQueue<PendingAck> {
    return (this._acks ??= new RingQueue(4));
  }

  /** Inbound QoS 2 packet ids between PUBLISH and PUBREL (counts against Receive Maximum). */
  get qos2In(): Set<number> {
    return (this._qos2In ??= new Set());
  }

  /** Packets that arrived after CONNECT, before CONNACK (clients may send them at once). */
  get pendingIn(): Packet[] {
    return (this._pendingIn ??= []);
  }

  /** Session output that arrived before CONNACK was written. */
  get pendingOut(): GatewayOutItem[] {
    return (this._pendingOut ??= []);
  }

  /** Inbound publishes not yet acknowledged to the client (QoS 1 and 2), without creating the collections. */
  get inFlightIn(): number {
    return (this._acks?.length ?? 0) + (this._qos2In?.size ?? 0);
  }

  /** Takes what waited for CONNACK (session output, early packets) and forgets it. */
  takeEarly(): { out: GatewayOutItem[] | undefined; early: Packet[] | undefined } {
    const r = { out: this._pendingOut, early: this._pendingIn };
    this._pendingOut = undefined;
    this._pendingIn = undefined;
    return r;
  }
}

export function createConnState(id: number, peer: string, mountpoint: string, now: number): ConnState {
  return new ConnState(id, peer, mountpoint, now);
}
