/**
 * Every bus subject shardmq uses, built here and nowhere else.
 * `prefix` (nats.subjectPrefix, default "mqtt") is the first token of every subject, so clusters with
 * different prefixes on one NATS never see each other's traffic, logins included.
 */

export interface SubjectSpace {
  /** Gateway -> shard owner: CONNECT (request/reply), SUBSCRIBE, acks, QoS 2, DISCONNECT, conn lost. */
  sessionIn(shard: number): string;
  /**
   * Router/gateway -> one session actor process: owner-direct batches of session-in envelopes
   * for the shards it serves (envelope/owner-batch.ts). `token` is the process's, random per start.
   */
  ownerIn(token: string): string;
  /** All shard inboxes, for an owner that holds every shard. */
  readonly sessionInAll: string;
  /** Anyone -> one gateway: deliveries, control packets, closes (connection id + epoch inside). */
  gatewayOut(gatewayId: string): string;
  /** Gateway heartbeats; shard owners treat a silent gateway's connections as lost. */
  readonly gatewayHeartbeat: string;
  /** Gateway/session -> router (queue group `routerQueue`): PUBLISH to route, while no router is known. */
  readonly routePublish: string;
  /** Gateway/session -> one router: PUBLISH to route, each publisher sticking to one router (ordering). */
  routePublishTo(routerId: string): string;
  /** Gateway -> one router: a turn's QoS 0 publishes in one batch (envelope/route-batch.ts). */
  routeBatchTo(routerId: string): string;
  /** Router -> everyone who routes: "I am alive" (or stopping) every router.heartbeatMs. */
  readonly routerHeartbeat: string;
  /** Anyone -> every router: "announce yourself now" (a process that just started). */
  readonly routerProbe: string;
  /** Session -> every router: subscription changes (request; first router answers). */
  readonly routeSubscription: string;
  /** Router -> every other router: retained store changes. */
  readonly routeRetained: string;
  /** Session -> router (queue group): retained messages matching new filters. */
  readonly routeRetainedQuery: string;
  /** Router start-up: ask session owners to replay their subscriptions. */
  readonly routeResync: string;
  /** Gateway -> auth-service (queue group `authQueue`): CONNECT authentication. */
  readonly authConnect: string;
  /** Gateway -> auth-service (queue group `authQueue`): one PUBLISH topic / SUBSCRIBE filter to authorize (auth.http.aclUrl). */
  readonly authAuthorize: string;
  readonly routerQueue: string;
  readonly authQueue: string;
  /**
   * Integration (docs/integration.md), a public contract versioned in the subject: client
   * lifecycle events as JSON, `<prefix>.events.v1.<mountpoint>.<type>` (type e.g. `client.connected`).
   * `mountpointToken` is subjectToken(mountpoint) (integration/subject-token.ts).
   */
  clientEvent(mountpointToken: string, type: string): string;
  /** Every client event of every mountpoint (consumers subscribe to it). */
  readonly clientEventsAll: string;
  /** Exported device messages: `<prefix>.messages.v1.<mountpoint>.<topic levels as tokens>`. */
  exportedMessage(mountpointToken: string, topicTokens: string): string;
  /** Every exported message (the JetStream export stream's subjects). */
  readonly exportedMessagesAll: string;
  /** Backend -> broker (queue group `apiQueue`): publish a message to devices (request/reply). */
  readonly apiPublish: string;
  readonly apiQueue: string;
}

const SAFE = /^[A-Za-z0-9_-]+$/;

/**
 * Subjects built per message (a shard inbox for every routed copy and ack, a gateway's outbox
 * every turn) are built and checked once and then reused: no string concatenation or regex per
 * message, and the bus's subject lookups hash a string whose hash is already cached.
 * Bounded: ids beyond MAX_CACHED_IDS (gateways and routers come and go over months) start afresh.
 */
const MAX_CACHED_IDS = 4096;

function cachedById(make: (id: string) => string): (id: string) => string {
  const cache = new Map<string, string>();
  return (id) => {
    let subject = cache.get(id);
    if (subject === undefined) {
      subject = make(id);
      if (cache.size >= MAX_CACHED_IDS) cache.clear();
      cache.set(id, subject);
    }
    return subject;
  };
}

export function subjectSpace(prefix = 'mqtt'): SubjectSpace {
  if (!SAFE.test(prefix)) throw new Error(`bus subject prefix must match ${SAFE}`);
  const byShard: string[] = [];
  return {
    sessionIn: (shard) => {
      const cached = byShard[shard];
      if (cached !== undefined) return cached;
      const subject = `${prefix}.sess.${shard}.in`;
      // Shard numbers are 0..65535 (the shards setting); anything else is built, not kept.
      if (Number.isInteger(shard) && shard >= 0 && shard < 65536) byShard[shard] = subject;
      return subject;
    },
    sessionInAll: `${prefix}.sess.*.in`,
    ownerIn: (token) => {
      if (!SAFE.test(token)) throw new Error(`owner token must match ${SAFE}: ${token}`);
      return `${prefix}.sess.v1.owner.${token}`;
    },
    gatewayOut: cachedById((gatewayId) => {
      if (!SAFE.test(gatewayId)) throw new Error(`gateway id must match ${SAFE}: ${gatewayId}`);
      return `${prefix}.gw.${gatewayId}.out`;
    }),
    gatewayHeartbeat: `${prefix}.gw.hb`,
    routePublish: `${prefix}.route.pub`,
    routePublishTo: cachedById((routerId) => {
      if (!SAFE.test(routerId)) throw new Error(`router id must match ${SAFE}: ${routerId}`);
      return `${prefix}.route.v1.pub.${routerId}`;
    }),
    routeBatchTo: cachedById((routerId) => {
      if (!SAFE.test(routerId)) throw new Error(`router id must match ${SAFE}: ${routerId}`);
      return `${prefix}.route.v1.batch.${routerId}`;
    }),
    routerHeartbeat: `${prefix}.route.v1.hb`,
    routerProbe: `${prefix}.route.v1.probe`,
    routeSubscription: `${prefix}.route.sub`,
    routeRetained: `${prefix}.route.retained`,
    routeRetainedQuery: `${prefix}.route.retained.query`,
    routeResync: `${prefix}.route.resync`,
    authConnect: `${prefix}.auth.v1.connect`,
    authAuthorize: `${prefix}.auth.v1.authorize`,
    routerQueue: 'router',
    authQueue: 'auth',
    clientEvent: (mp, type) => `${prefix}.events.v1.${mp}.${type}`,
    clientEventsAll: `${prefix}.events.v1.>`,
    exportedMessage: (mp, topic) => `${prefix}.messages.v1.${mp}.${topic}`,
    exportedMessagesAll: `${prefix}.messages.v1.>`,
    apiPublish: `${prefix}.api.v1.publish`,
    apiQueue: 'api',
  };
}
