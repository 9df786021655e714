import type { Packet } from 'mqtt-packet';
import type { AuthReply, AuthRequest, Message, ConnectEnv, ConnectReply, LostReason, SessionInEnv } from '../../../common/src/index.js';
import type { ConnState } from './conn-state.js';
import type { PacketFault } from './packet-fault.js';
import type { TopicAsk, TopicVerdict } from './topic-authorization.js';

export interface GatewayLimits {
  maxPacketBytes: number;
  maxClientIdLength: number;
  maxTopicLevels: number;
  maxTopicAlias: number;
  receiveMaximum: number;
  maxKeepaliveS: number;
  maxSessionExpiryS: number;
  unauthorizedPublish: 'drop' | 'disconnect';
  allowWildcardSubscriptions: boolean;
  /** Per-message authorization answers kept per connection (auth.http.aclCacheMaxEntries). */
  maxTopicVerdicts?: number;
}

/**
 * Everything a protocol handler may do to the outside world. The socket layer
 * (connection.ts) implements it; unit tests use a fake. Handlers never touch sockets,
 * the bus or the clock directly.
 */
export interface GatewayPorts {
  readonly limits: GatewayLimits;
  readonly gatewayId: string;
  readonly shards: number;
  now(): number;
  /** Encodes for the connection's protocol version and queues for writing (corked per turn). */
  send(c: ConnState, p: Packet): void;
  /** Sends MQTT 5 DISCONNECT with rc (when given and the connection speaks 5.0), then closes. */
  close(c: ConnState, rc: number | undefined, reason: LostReason): void;
  toSession(c: ConnState, env: SessionInEnv): void;
  connectSession(env: ConnectEnv): Promise<ConnectReply>;
  /** `stillWanted`: checked before the request is sent (it may wait for a slot); false: not sent, answered unavailable. */
  authenticate(req: AuthRequest, stillWanted?: () => boolean): Promise<AuthReply>;
  /** QoS 0: fire and forget (returns undefined). QoS 1: resolves with the router's status code. */
  route(c: ConnState, m: Message, ack: boolean): Promise<number> | undefined;
  /**
   * Refuses a packet that failed its checks: counts fault.what, logs it at debug with the peer,
   * answers MQTT 5 with the reason code (CONNACK before CONNACK was sent, else DISCONNECT) and
   * closes; 3.1/3.1.1 are just closed.
   */
  refuse(c: ConnState, fault: PacketFault): void;
  /**
   * An unexpected exception while handling this connection (a bug, not bad input): counted as
   * internal_error, logged at error with its stack, the connection closed (MQTT 5: DISCONNECT
   * 0x83). Never rethrows: one connection's input must not take the process down.
   */
  fault(c: ConnState, err: unknown): void;
  /**
   * A QoS 1 PUBLISH of this connection filled a subscriber's queue: stops reading the
   * connection for gateway.slowPublisherDelayMs (counted) and resolves when it may go on.
   */
  slowDown(c: ConnState): Promise<void>;
  /** Counts a limit hit or a refusal in metrics. */
  count(what: string): void;
  newClientId(): string;
  /** The CONNECT was refused by authentication (or its Will by the ACL): the auth_refused event. */
  authRefused(c: ConnState, username: string | undefined, reason: string): void;
  /** Runs when a connection became 'connected' (flush buffered input/output). */
  connected(c: ConnState): void;
  /**
   * Per-message authorization (set only when auth.http.aclUrl is): one answer per ask, in order.
   * Never rejects (no answer is a refusal with ttlMs 0).
   */
  authorizeTopics?(c: ConnState, asks: readonly TopicAsk[]): Promise<TopicVerdict[]>;
  /** Handles the packets held while c.holding, in arrival order (set with authorizeTopics). */
  resumeInput?(c: ConnState): void;
}
