/**
 * The client lifecycle events shardmq publishes for backends (docs/integration.md), version 1
 * of a public contract: JSON objects on `<prefix>.events.v1.<mountpoint>.<type>`. A field is
 * never removed or changes meaning within v1; new optional fields may appear (consumers ignore
 * what they do not know). Built by the tier that owns the fact: the session owner (connection,
 * session, subscription and Will facts) and the gateway (authentication refused).
 */

export type DisconnectReason = 'client_disconnect' | 'socket_closed' | 'keepalive_timeout' | 'protocol_error' | 'gateway_gone' | 'server_shutdown' | 'backpressure' | 'takeover' | 'admin_disconnect';

export type SessionEndReason = 'expired' | 'clean_start' | 'closed' | 'admin_discarded';

interface EventBase {
  /** Milliseconds since 1970 on the clock of the process that emitted it. */
  ts: number;
  mountpoint: string;
  clientId: string;
}

/**
 * Events of one session owner carry `epoch`: strictly increasing per shard on one owner, and
 * at least the owner's clock in ms (a hybrid logical clock), so the events of one client id
 * order by it cluster-wide as long as the owners' clocks differ by less than the time a shard
 * takes to move. The disconnected event of a replaced connection always has a smaller epoch
 * than the connected event of its successor.
 */
interface OwnerEvent extends EventBase {
  epoch: number;
}

export interface ConnectedEvent extends OwnerEvent {
  type: 'client.connected';
  username?: string;
  /** MQTT protocol level: 3 (3.1), 4 (3.1.1) or 5. */
  protocol: 3 | 4 | 5;
  cleanStart: boolean;
  sessionPresent: boolean;
  keepaliveS: number;
  /** Session Expiry Interval in seconds now in force (4294967295: never). */
  sessionExpiryS: number;
  /** Gateway (node id) holding the connection. */
  gateway: string;
}

export interface DisconnectedEvent extends OwnerEvent {
  type: 'client.disconnected';
  reason: DisconnectReason;
  /** The MQTT 5 DISCONNECT reason code with reason client_disconnect. */
  reasonCode?: number;
}

export interface SessionCreatedEvent extends OwnerEvent {
  type: 'session.created';
}

export interface SessionEndedEvent extends OwnerEvent {
  type: 'session.ended';
  reason: SessionEndReason;
}

export interface SubscribedEvent extends OwnerEvent {
  type: 'client.subscribed';
  /** The filters as the client sent them (`$share/<group>/...` included) with the granted QoS. */
  subscriptions: Array<{ filter: string; qos: 0 | 1 | 2 }>;
}

export interface UnsubscribedEvent extends OwnerEvent {
  type: 'client.unsubscribed';
  filters: string[];
}

export interface WillPublishedEvent extends OwnerEvent {
  type: 'client.will_published';
  topic: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  payloadBytes: number;
}

export interface AuthRefusedEvent extends EventBase {
  type: 'client.auth_refused';
  username?: string;
  /** Peer address as the gateway saw it. */
  peer: string;
  /** Why: the auth service's answer (e.g. bad_credentials, not_authorized, unavailable) or will_acl. */
  reason: string;
  gateway: string;
}

export type OwnerClientEvent = ConnectedEvent | DisconnectedEvent | SessionCreatedEvent | SessionEndedEvent | SubscribedEvent | UnsubscribedEvent | WillPublishedEvent;

export type ClientEvent = OwnerClientEvent | AuthRefusedEvent;
export type ClientEventType = ClientEvent['type'];

/** Every event type, in the order docs/integration.md lists them. */
export const CLIENT_EVENT_TYPES: readonly ClientEventType[] = [
  'client.connected',
  'client.disconnected',
  'session.created',
  'session.ended',
  'client.subscribed',
  'client.unsubscribed',
  'client.will_published',
  'client.auth_refused',
];
