import { bool, int, list, optStr, str } from './setting.js';

/**
 * Backend integration over NATS (docs/integration.md): client lifecycle events, export of
 * device messages, the backend publish API and the shutdown broadcast. All off by default.
 */
export const integrationSettings = {
  'events.enabled': bool({
    default: false,
    doc: 'Publish client lifecycle events (connected, disconnected, session created/ended, subscribed, unsubscribed, Will published, authentication refused) as JSON on <prefix>.events.v1.<mountpoint>.<type> (docs/integration.md). Read by the session actors and the gateways; on the in-memory bus the events stay inside the process, so set nats.url.',
  }),
  'export.filters': list({
    default: [],
    doc: 'MQTT topic filters (comma list) of device messages the routers copy to NATS subjects <prefix>.messages.v1.<mountpoint>.<topic levels>, payload as the body, topic, QoS, retain, client id and properties in headers (docs/integration.md). Empty: no export.',
  }),
  'export.jetstream': bool({
    default: false,
    doc: 'Also store exported messages in the JetStream stream export.stream (needs nats.url), and answer a QoS 1/2 publisher only once the stream acknowledged its copy (acknowledged = exported).',
  }),
  'export.stream': str({
    default: 'shardmq-export',
    pattern: /^[A-Za-z0-9_-]+$/,
    doc: 'Name of the JetStream stream of exported messages (created by the routers when missing, subjects <prefix>.messages.v1.>).',
  }),
  'export.maxAgeS': int({ default: 86400, min: 0, max: 315360000, doc: 'Longest an exported message stays in the JetStream stream (0: until export.maxBytes).' }),
  'export.maxBytes': int({ default: 1073741824, min: -1, max: 1099511627776, doc: 'Size bound of the JetStream export stream in bytes (oldest messages go first; -1: unbounded).' }),
  'api.publishEnabled': bool({
    default: false,
    doc: 'Routers answer backend publishes on <prefix>.api.v1.publish (NATS request; docs/integration.md). Off by default: anyone who may publish on that NATS subject publishes to every device with no ACL, so turn it on together with NATS permissions that restrict the subject to backends.',
  }),
  'gateway.shutdownBroadcastTopic': optStr({
    default: undefined,
    doc: 'On graceful stop, every client of the stopping gateway is sent a PUBLISH on this topic (whether or not it subscribed) before the drain closes it. Unset: no broadcast.',
  }),
  'gateway.shutdownBroadcastPayload': str({ default: '', doc: 'Payload (UTF-8 text) of the shutdown broadcast.' }),
  'gateway.shutdownBroadcastQos': int({
    default: 0,
    min: 0,
    max: 2,
    doc: 'QoS of the shutdown broadcast. At 1 and 2 the PUBLISH is owned by each session like any delivery: a client that drops before acknowledging it gets it again after it reconnects.',
  }),
  'gateway.shutdownBroadcastWaitMs': int({
    default: 5000,
    min: 0,
    max: 600000,
    doc: 'Longest a stopping gateway waits for the shutdown broadcast to be written to its clients before it starts draining them (a client whose window or queue is full may get it later).',
  }),
} as const;
