import { bool, int, oneOf } from './setting.js';

/** Session actor and router settings. */
export const sessionSettings = {
  'session.maxInflight': int({ default: 32, min: 1, max: 65535, doc: 'Unacknowledged QoS 1/2 deliveries per session (capped by the client Receive Maximum).' }),
  'session.maxQueuedMessages': int({
    default: 100000,
    min: 0,
    max: 10000000,
    doc: 'Messages queued per session while offline or beyond the inflight window (counted in shardmq_session_outcomes_total when hit). The default lets an online subscriber slower than a burst of 10,000 messages lose nothing.',
  }),
  'session.maxQueuedBytes': int({
    default: 67108864,
    min: 0,
    max: 4294967295,
    doc: 'Payload and topic bytes queued per session (64 MiB default; counted in shardmq_session_outcomes_total when hit).',
  }),
  'session.queueOverflow': oneOf({
    default: 'drop-new',
    values: ['drop-new', 'drop-oldest', 'backpressure'] as const,
    doc: 'What happens when a session queue is full: drop the new message, drop the oldest (both counted in shardmq_session_outcomes_total{what="queue_full_dropped" or "queue_oldest_dropped"}), or backpressure: keep queueing up to twice the bounds while slowing the QoS 1 publishers of what arrives (their PUBACK is delayed by gateway.slowPublisherDelayMs and their input paused; counted as what="queue_over_limit"), dropping the new message only beyond twice the bounds.',
  }),
  'session.queueQos0': bool({ default: false, doc: 'Queue QoS 0 messages for offline persistent sessions.' }),
  'session.maxExpiryS': int({ default: 4294967295, min: 0, max: 4294967295, doc: 'Cap on the MQTT 5 Session Expiry Interval a client may ask for.' }),
  'session.v3PersistentExpiryS': int({
    default: 86400,
    min: 0,
    max: 4294967295,
    doc: 'Expiry of MQTT 3.1.1 clean-session=0 sessions after disconnect (the spec keeps them forever; brokers bound it).',
  }),
  'session.v3WillDelayS': int({ default: 0, min: 0, max: 4294967295, doc: 'NON-STANDARD: a Will delay applied to MQTT 3.1/3.1.1 clients (quick-reconnect grace). 0 = spec behaviour.' }),
  'session.suppressWillOnTakeover': bool({ default: false, doc: 'NON-STANDARD: do not publish the old connection Will when a new connection takes the client id over.' }),
  'router.heartbeatMs': int({
    default: 1000,
    min: 100,
    max: 60000,
    doc: 'Router heartbeat period on the bus: publishers stick to one live router (per-publisher order) and leave a router silent for 3 periods.',
  }),
  'router.maxRetainedMessages': int({
    default: 1000000,
    min: 0,
    max: 100000000,
    doc: 'Retained messages kept per router. A retained PUBLISH to a new topic beyond it is refused whole (MQTT 5 QoS 1/2: reason 0x97 Quota exceeded; otherwise dropped) and counted in shardmq_router_limit_hits_total{limit="maxRetainedMessages"}.',
  }),
  'router.maxRetainedBytes': int({
    default: 1073741824,
    min: 0,
    max: 1099511627776,
    doc: 'Topic and payload bytes of all retained messages kept per router. A retained PUBLISH that would pass it is refused whole like one beyond router.maxRetainedMessages, counted as limit="maxRetainedBytes".',
  }),
  'router.qos0Direct': bool({
    default: true,
    doc: 'Routers send QoS 0 copies for connected sessions (non-shared subscriptions) straight to the subscriber gateway instead of through the shard owner (one bus hop less; docs/sharding.md, "QoS 0 direct"). Off: every copy goes through the owner.',
  }),
  'router.matchCacheTopics': int({
    default: 10000,
    min: 0,
    max: 10000000,
    doc: 'Topics per mountpoint whose subscription matches (and merged copies) a router keeps, so a topic published again costs one lookup instead of a walk of the subscription index; every subscription change of the mountpoint drops them. A full cache starts over, counted in shardmq_router_limit_hits_total{limit="matchCacheTopics"}. 0: no cache.',
  }),
  'router.indexWaitMs': int({
    default: 10000,
    min: 0,
    max: 600000,
    doc: 'Longest a starting router (cluster mode) waits for the session owners to replay the subscriptions of every shard before it takes publishes (queue group, its own subject, heartbeat); a router that routed with a partial index would acknowledge messages it delivers to nobody. Past it, the router starts anyway and logs the shards it misses.',
  }),
} as const;
