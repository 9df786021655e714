import { bool, int, oneOf, optStr, str } from './setting.js';

/** Gateway listener and per-connection limits. */
export const mqttSettings = {
  'mqtt.host': str({ default: '0.0.0.0', doc: 'MQTT TCP listen address.' }),
  'mqtt.port': int({ default: 1883, min: 0, max: 65535, doc: 'MQTT TCP listen port; 0 picks a free port.' }),
  'mqtt.listenBacklog': int({ default: 4000, min: 1, max: 65535, doc: 'TCP accept backlog; decides how a connection storm is absorbed.' }),
  'mqtt.mountpoint': str({ default: '', pattern: /^[^\u0000/#+]*$/, doc: 'Mountpoint of this listener: tenants under different mountpoints never see each other.' }),
  'mqtt.maxPacketBytes': int({ default: 262144, min: 64, max: 1048000, doc: 'Largest MQTT packet accepted or sent (must stay below NATS max_payload, 1 MB by default).' }),
  'mqtt.maxConnections': int({
    default: 0,
    min: 0,
    max: 10000000,
    doc: 'Most client connections one gateway holds; beyond it a new connection is closed before its CONNECT is read (counted as connection_refused_max_connections). 0: the process open-file limit minus a reserve (a tenth, at least 32) for the bus, the HTTP endpoint and files, so the listener never runs out of descriptors.',
  }),
  'mqtt.maxPendingConnects': int({
    default: 10000,
    min: 1,
    max: 10000000,
    doc: 'Most connections one gateway holds that have not completed CONNECT (pre-authentication); beyond it a new connection is closed at once (counted as connection_refused_pending_connects).',
  }),
  'mqtt.connectTimeoutMs': int({
    default: 10000,
    min: 100,
    max: 600000,
    doc: 'Close sockets that send no CONNECT within this time (counted from when the gateway starts reading the socket; a CONNECT received and waiting for authentication is not timed out).',
  }),
  'mqtt.maxAuthInFlight': int({
    default: 32,
    min: 1,
    max: 100000,
    doc: 'CONNECT authentications one gateway has waiting for the auth service at once; further CONNECTs wait at the gateway, in arrival order (counted as auth_in_flight_limit), so a reconnect storm is answered as fast as the auth service verifies instead of timing out there as server unavailable.',
  }),
  'mqtt.connectWorkPerTurnMs': int({
    default: 20,
    min: 0,
    max: 10000,
    doc: 'How long one event-loop turn of a gateway may spend handling the input of connections without a completed CONNECT (at least one per turn); the input of the others waits, unread, for the next turns in arrival order (counted as connect_held_for_turn, and not timed out by mqtt.connectTimeoutMs meanwhile), so a reconnect storm cannot hold the event loop for one long turn. A freed mqtt.maxAuthInFlight slot is handed to the next waiting CONNECT within the same budget, and the connection-lost notices of sockets their clients closed go to the session owners within it too (counted as conn_lost_held_for_turn when one waits for a later turn).',
  }),
  'mqtt.maxKeepaliveS': int({ default: 65535, min: 1, max: 65535, doc: 'Largest keepalive granted (MQTT 5 Server Keep Alive when the client asks for more).' }),
  'mqtt.maxClientIdLength': int({ default: 128, min: 23, max: 65535, doc: 'Longest client identifier accepted.' }),
  'mqtt.maxTopicLevels': int({ default: 32, min: 1, max: 1024, doc: 'Most levels in a topic name or filter.' }),
  'mqtt.maxTopicAlias': int({ default: 64, min: 0, max: 65535, doc: 'MQTT 5 Topic Alias Maximum announced to clients (0 disables).' }),
  'gateway.slowPublisherDelayMs': int({
    default: 100,
    min: 0,
    max: 60000,
    doc: 'With session.queueOverflow=backpressure: how long a QoS 1 PUBLISH that filled a subscriber queue waits for its PUBACK, the publisher connection not being read meanwhile (counted in shardmq_gateway_events_total{what="publisher_slowed"}).',
  }),
  'mqtt.receiveMaximum': int({
    default: 1024,
    min: 1,
    max: 65535,
    doc: 'QoS 1/2 publishes an MQTT 5 client may have unacknowledged towards the broker (Receive Maximum; exceeding it closes with 0x93). 3.1.1 has no such limit; its packet ids bound it.',
  }),
  'mqtt.maxSubscriptionsPerClient': int({ default: 1000, min: 1, max: 1000000, doc: 'Most subscriptions one session may hold.' }),
  'mqtt.socketHighWaterBytes': int({ default: 1048576, min: 16384, max: 268435456, doc: 'Outbound bytes buffered per socket before the gateway stops reading from it (backpressure).' }),
  'mqtt.unauthorizedPublish': oneOf({ default: 'drop', values: ['drop', 'disconnect'] as const, doc: 'MQTT 3.1.1: what happens to a publish the ACL denies (MQTT 5 always answers 0x87).' }),
  'mqtt.allowWildcardSubscriptions': bool({ default: true, doc: 'Allow + and # in subscriptions.' }),
  'gateway.heartbeatMs': int({ default: 1000, min: 100, max: 60000, doc: 'Gateway heartbeat period on the bus.' }),
  'gateway.drainRatePerS': int({
    default: 500,
    min: 1,
    max: 1000000,
    doc: 'Connections closed per second on graceful stop (a full gateway drains in connections / drainRatePerS seconds; node.stopTimeoutMs must cover it).',
  }),
  'gateway.serverReference': optStr({
    default: undefined,
    doc: 'On graceful stop, MQTT 5 clients get DISCONNECT 0x9C (Use another server) with this Server Reference (e.g. "mqtt.example.com:1883") instead of 0x8B (Server shutting down).',
  }),
} as const;

/** Extra listeners of the gateway: TLS, WebSocket, secure WebSocket. All off by default. */
export const listenerSettings = {
  'mqtt.tlsEnabled': bool({ default: false, doc: 'Serve MQTT over TLS (needs mqtt.tlsCertFile and mqtt.tlsKeyFile).' }),
  'mqtt.tlsPort': int({ default: 8883, min: 0, max: 65535, doc: 'MQTT over TLS port; 0 picks a free port.' }),
  'mqtt.tlsCertFile': optStr({ default: undefined, doc: 'PEM certificate chain for the TLS and WSS listeners.' }),
  'mqtt.tlsKeyFile': optStr({ default: undefined, secret: true, doc: 'PEM private key for the TLS and WSS listeners (path; the file content is never logged).' }),
  'mqtt.tlsCaFile': optStr({ default: undefined, doc: 'PEM CA bundle to verify client certificates against (with mqtt.tlsRequireClientCert).' }),
  'mqtt.tlsRequireClientCert': bool({ default: false, doc: 'Require and verify a client certificate on the TLS and WSS listeners.' }),
  'mqtt.wsEnabled': bool({ default: false, doc: 'Serve MQTT over WebSocket (subprotocol mqtt).' }),
  'mqtt.wsPort': int({ default: 8080, min: 0, max: 65535, doc: 'MQTT over WebSocket port; 0 picks a free port.' }),
  'mqtt.wssEnabled': bool({ default: false, doc: 'Serve MQTT over secure WebSocket (uses the TLS certificate settings).' }),
  'mqtt.wssPort': int({ default: 8443, min: 0, max: 65535, doc: 'MQTT over secure WebSocket port; 0 picks a free port.' }),
  'mqtt.wsPath': str({ default: '/mqtt', pattern: /^\//, doc: 'HTTP path of the WebSocket listeners.' }),
} as const;

/** Rate limits of the gateway (0 = unlimited), counted in shardmq_gateway_events_total when hit. */
export const rateSettings = {
  'mqtt.maxPublishRatePerS': int({
    default: 0,
    min: 0,
    max: 10000000,
    doc: 'PUBLISH packets per second one connection may send; beyond it the gateway stops reading that socket for a while (0: unlimited).',
  }),
  'mqtt.maxConnectRatePerS': int({
    default: 0,
    min: 0,
    max: 10000000,
    doc: 'New connections per second one gateway starts processing; the rest wait (their CONNECT is read later), which spreads a reconnect storm (0: unlimited).',
  }),
} as const;
