import type { Packet } from 'mqtt-packet';
import type { AuthReply, AuthRequest } from '../../../auth-service/src/protocol.js';
import type { Message } from '../../../common/src/envelope/message.js';
import type { ConnectEnv, ConnectReply, LostReason, SessionInEnv } from '../../../common/src/envelope/session-in.js';
import type { ConnState } from './conn-state.js';

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
  authenticate(req: AuthRequest): Promise<AuthReply>;
  /** QoS 0: fire and forget (returns undefined). QoS 1: resolves with the router's status code. */
  route(c: ConnState, m: Message, ack: boolean): Promise<number> | undefined;
  /** Counts a limit hit or a refusal in metrics. */
  count(what: string): void;
  newClientId(): string;
  /** Runs when a connection became 'connected' (flush buffered input/output). */
  connected(c: ConnState): void;
}
