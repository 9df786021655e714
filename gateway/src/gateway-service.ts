import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import type mqtt from 'mqtt-packet';
import { createAuthClient, type AuthClient } from './auth-client.js';
import {
  type Bus,
  type BusSubscription,
  BusValue,
  type Config,
  decodeGatewayOut,
  gatewayOutCodec,
  handedOver,
  GwOut,
  type GatewayOutItem,
  encodeHeartbeat,
  decodeStatusSafe,
  routePublishCodec,
  ROUTE_FAILED,
  OwnerDirect,
  onBusReconnected,
  decodeConnectReply,
  encodeSessionIn,
  sessionInCodec,
  LostReason,
  SessIn,
  type SessionInEnv,
  type Logger,
  labelledCounter,
  type Metrics,
  RETRY,
  retrying,
  RouterChoice,
  shardOf,
  TokenBucket,
  type SubjectSpace,
  type AuthRefusedEvent,
  publishClientEvent,
  adminSubjects,
  decodeClientTraceRequest,
  encodeJson,
  type ClientTraceAck,
} from '../../common/src/index.js';
import { AuthInFlightLimit } from './auth-in-flight-limit.js';
import { OrderedRouteRetry } from './ordered-route-retry.js';
import { ConnectReadsPerTurn } from './connect-reads-per-turn.js';
import { admission, connectionCap, openFileLimit, type Refusal } from './connection-admission.js';
import { Connection, type ConnectionContext } from './connection.js';
import { drainConnections } from './graceful-drain.js';
import { ownedMessage } from './owned-message.js';
import { BroadcastWait, broadcastTargets, shutdownBroadcastOf } from './shutdown-broadcast.js';
import { startListeners, verifiedPeerCertificate, type ListenerPorts, type Listeners } from './listeners.js';
import type { ConnState } from './protocol/conn-state.js';
import { encodeControl } from './protocol/encode-control.js';
import { handlePacket } from './protocol/handle-packet.js';
import { encodeOwnPacket, encodePublishWithin, fitsClient } from './protocol/max-packet-size.js';
import { SharedPublishBytes } from './protocol/shared-publish-bytes.js';
import type { GatewayLimits, GatewayPorts } from './protocol/ports.js';
import type { PacketFault } from './protocol/packet-fault.js';
import { RC, REASON_TEXT } from './protocol/reason-codes.js';
import { connectionInfoReply } from './connection-info.js';
import { ClientEventLog, closeReason } from './client-event-log.js';
import { ClientTraces } from './client-trace.js';
import { GatewayTraffic } from './gateway-traffic.js';
import { certIdentity } from './cert-identity.js';

export interface GatewayDeps {
  bus: Bus;
  subjects: SubjectSpace;
  log: Logger;
  metrics: Metrics;
  /** Process identity on the bus (letters, digits, - and _). */
  nodeId: string;
  auth?: AuthClient;
}

const PENDING_OUT_MAX = 10000;
/** How long a stopping gateway waits for owners to answer its last envelopes (lost-connection notices). */
const SESSION_NOTICE_WAIT_MS = 2000;
const CONNACK_UNACCEPTABLE_PROTOCOL = Buffer.from([0x20, 0x02, 0x00, 0x01]);
/** Socket errors end in 'close', which is handled; the listener only keeps them from being thrown. */
const ignoreSocketError = (): void => {};
/** The answer for a CONNECT whose connection closed while it waited for an auth slot (never sent to a client). */
const CONNECTION_GONE = { result: 'unavailable', acl: null, reason: 'connection closed before authentication' } as const;

/**
 * The gateway: TCP listener, MQTT decode/encode, validation, keepalive, ACL enforcement,
 * backpressure. Stateless beyond its sockets: sessions live on the shard owners.
 */
export class GatewayService implements GatewayPorts {
  readonly gatewayId: string;
  readonly limits: GatewayLimits;
  readonly authorizeTopics?: GatewayPorts['authorizeTopics'];
  readonly resumeInput?: GatewayPorts['resumeInput'];
  readonly shards: number;
  private listeners?: Listeners;
  private readonly conns = new Map<number, Connection>();
  /** Ids of connections that have not completed CONNECT (bounded by mqtt.maxPendingConnects). */
  private readonly preConnect = new Set<number>();
  /** mqtt.maxConnections, or derived from the open-file limit (connection-admission.ts). */
  private readonly maxConnections: number;
  private lastRefusalLogAt = 0;
  private nextConnId = 1;
  private readonly subs: BusSubscription[] = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly auth: AuthClient;
  /** The router each publisher's messages go to (per-publisher order with several routers). */
  private readonly routers: RouterChoice;
  private readonly m;
  /** Bytes and packets in and out, counted where they pass (gateway-traffic.ts). */
  private readonly traffic = new GatewayTraffic();
  /** What the connections of each listener share (connection.ts), made on its first connection. */
  private readonly connContexts = new Map<string, ConnectionContext>();
  private listening = false;
  private stopping = false;
  /** The stop deadline passed: stop() closes what is left at once. */
  private forced = false;
  /** Connections being drained: they take no new work (publishes wait for the next gateway). */
  private readonly draining = new WeakSet<Connection>();
  /** Envelopes to shard owners not yet answered (stop() lets them finish). */
  private sessionSends = 0;
  /** Connection-lost notices waiting for a turn with room (connectReads); stop() waits for them too. */
  private lostNoticesWaiting = 0;
  private readonly publishRate: number;
  /** Route ids: unique per gateway process (random prefix) and per request (counter). */
  private readonly routeIdPrefix = randomBytes(6).toString('base64url');
  private routeSeq = 0;
  private readonly publishBuckets = new WeakMap<Connection, TokenBucket>();
  private readonly connectBucket?: TokenBucket;
  private readonly authLimit: AuthInFlightLimit;
  private readonly connectReads: ConnectReadsPerTurn;
  /** QoS 1/2 route requests of a connection, retried in publish order (ordered-route-retry.ts). */
  private readonly routeRetry = new OrderedRouteRetry<number>(RETRY.publishToRouter);
  /** Writes QoS 0 PUBLISHes without anything per connection, each message encoded once (shared-publish-bytes.ts). */
  private readonly sharedPublish = new SharedPublishBytes();
  /** Set while a stopping gateway waits for its shutdown broadcast to be written. */
  private broadcastWait?: BroadcastWait;
  private readonly clientLog: ClientEventLog;
  /** Bus reconnections after an interruption, announced in heartbeats (heartbeat.ts). */
  private busReconnects = 0;
  /** Envelopes to shard owners go per owner process, batched per turn, once it is known (owner-direct.ts). */
  private readonly owners: OwnerDirect;
  private readonly traces: ClientTraces;

  private constructor(
    private readonly config: Config,
    private readonly deps: GatewayDeps,
  ) {
    this.gatewayId = deps.nodeId;
    this.shards = config.shards;
    this.limits = {
      maxPacketBytes: config['mqtt.maxPacketBytes'],
      maxClientIdLength: config['mqtt.maxClientIdLength'],
      maxTopicLevels: config['mqtt.maxTopicLevels'],
      maxTopicAlias: config['mqtt.maxTopicAlias'],
      receiveMaximum: config['mqtt.receiveMaximum'],
      maxKeepaliveS: config['mqtt.maxKeepaliveS'],
      maxSessionExpiryS: config['session.maxExpiryS'],
      unauthorizedPublish: config['mqtt.unauthorizedPublish'],
      allowWildcardSubscriptions: config['mqtt.allowWildcardSubscriptions'],
      maxTopicVerdicts: config['auth.http.aclCacheMaxEntries'],
    };
    this.maxConnections = connectionCap(config['mqtt.maxConnections'], openFileLimit());
    this.publishRate = config['mqtt.maxPublishRatePerS'];
    const connectRate = config['mqtt.maxConnectRatePerS'];
    if (connectRate > 0) this.connectBucket = new TokenBucket(connectRate, connectRate, Date.now());
    this.routers = new RouterChoice({ bus: deps.bus, subjects: deps.subjects, shards: config.shards, heartbeatMs: config['router.heartbeatMs'], log: deps.log });
    this.auth = deps.auth ?? createAuthClient(deps.bus, deps.subjects, config['nats.requestTimeoutMs']);
    this.connectReads = new ConnectReadsPerTurn(config['mqtt.connectWorkPerTurnMs'], () => this.count('connect_held_for_turn'));
    const reads = this.connectReads;
    this.authLimit = new AuthInFlightLimit(
      config['mqtt.maxAuthInFlight'],
      () => this.count('auth_in_flight_limit'),
      (handOver) => reads.run(handOver),
    );
    if (config['auth.http.aclUrl'] !== undefined) {
      // Per-message authorization (docs/auth.md): only on a connection's cache miss.
      this.authorizeTopics = (st, asks) => Promise.all(asks.map((a) => this.auth.authorize({ mountpoint: st.mountpoint, clientId: st.clientId, username: st.username, ...a })));
      this.resumeInput = (st) => {
        const held = st.pendingIn.splice(0);
        for (const p of held) handlePacket(st, p, this);
      };
    }
    const metrics = deps.metrics;
    this.m = {
      events: labelledCounter(metrics.counter('gateway_events_total', 'Gateway refusals, limit hits and protocol errors, by kind.', ['what'])),
      connects: metrics.counter('gateway_connections_total', 'Client connections accepted by the listener.'),
      packetsIn: labelledCounter(metrics.counter('gateway_packets_in_total', 'MQTT packets received, by type.', ['type'])),
    };
    metrics.gauge('gateway_connections', 'Open client connections.', [], (g) => g.set(this.conns.size));
    const batches = metrics.counter('gateway_owner_batches_total', 'Owner-direct batches of session envelopes (acks, QoS 2 steps...) sent to session actors (owner-direct.ts).');
    const batchItems = metrics.counter('gateway_owner_batch_items_total', 'Session envelopes sent in owner-direct batches.');
    this.owners = new OwnerDirect(deps.bus, deps.subjects, (n) => {
      batches.inc();
      batchItems.inc(n);
    });
    this.traffic.register(metrics);
    const onSocketClosed = (c: Connection) => this.onSocketClosed(c);
    this.onSocketClose = function (this: net.Socket) {
      const c = Connection.of(this);
      if (c) onSocketClosed(c);
    };
    this.clientLog = new ClientEventLog(deps.log, this.gatewayId, config['log.clientEvents']);
    this.traces = new ClientTraces(deps.log, () => this.conns.values());
  }

  static create(config: Config, deps: GatewayDeps): GatewayService {
    return new GatewayService(config, deps);
  }

  /** The bound MQTT TCP port (after start). */
  get port(): number {
    return this.listeners?.ports.tcp ?? 0;
  }

  /** Every bound listener port (TCP, and TLS / WebSocket / WSS when enabled). */
  get ports(): ListenerPorts | undefined {
    return this.listeners?.ports;
  }

  ready(): boolean {
    return this.listening && !this.stopping;
  }

  async start(): Promise<void> {
    const { bus, subjects } = this.deps;
    const onOut = (it: GatewayOutItem) => this.onOut(it);
    this.subs.push(
      bus.subscribe(subjects.gatewayOut(this.gatewayId), (m) => {
        // One process: the owners' item array itself (read only). Over NATS: decoded item by item.
        const items = handedOver(m, gatewayOutCodec);
        if (items === undefined) decodeGatewayOut(m.data, onOut);
        else for (let i = 0; i < items.length; i++) this.onOut(items[i]!);
      }),
    );
    // Admin API: details of one connection (peer, since when, keepalive), by id and epoch.
    const admin = adminSubjects(this.config['nats.subjectPrefix']);
    this.subs.push(bus.subscribe(admin.gateway(this.gatewayId), (m) => void m.respond(connectionInfoReply(m.data, this.conns))));
    // Admin API: a client trace, broadcast to every gateway (the client may connect to any).
    this.subs.push(
      bus.subscribe(admin.trace, (m) => {
        const connections = this.traces.start(decodeClientTraceRequest(m.data), Date.now());
        m.respond(encodeJson({ gateway: this.gatewayId, connections } satisfies ClientTraceAck));
      }),
    );
    await this.routers.start();
    const hb = () => bus.publish(subjects.gatewayHeartbeat, encodeHeartbeat({ gatewayId: this.gatewayId, stopping: false, busReconnects: this.busReconnects }));
    // Back on the bus after an interruption: say so at once, so owners resend what they sent us
    // meanwhile (it may have died with the NATS node we were on).
    onBusReconnected(bus, () => {
      this.busReconnects++;
      hb();
    });
    hb();
    this.timers.push(setInterval(hb, this.config['gateway.heartbeatMs']));
    this.timers.push(setInterval(() => this.sweep(), 500));
    for (const t of this.timers) t.unref();
    this.listeners = await startListeners(
      this.config,
      (s, listener) => this.accept(s, listener),
      this.deps.log,
      (what) => this.count(what),
    );
    this.listening = true;
    const maxConnections = Number.isFinite(this.maxConnections) ? this.maxConnections : 'unbounded';
    this.deps.log.info('mqtt listeners up', { host: this.config['mqtt.host'], ...this.listeners.ports, gateway: this.gatewayId, maxConnections });
  }

  /**
   * Graceful stop, bounded by node.stopTimeoutMs (the caller calls force() at the deadline):
   * stop accepting, then drain the open connections at gateway.drainRatePerS, each after
   * its in-flight QoS 1 publishes are answered, with DISCONNECT 0x8B Server shutting down
   * (0x9C Use another server with gateway.serverReference) for MQTT 5 clients
   * [MQTT-3.14.2-1]; then wait for the owners to take the lost-connection notices and
   * announce the stop, so owners run the Will path (Will Delay still applies) for any
   * connection whose notice did not arrive.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const { log, bus, subjects } = this.deps;
    this.listeners?.close();
    const all = [...this.conns.values()];
    await this.broadcastBeforeDrain(all);
    const ratePerS = this.config['gateway.drainRatePerS'];
    log.info('draining connections', { connections: all.length, ratePerS });
    await drainConnections(all, {
      ratePerS,
      startDraining: (c) => this.draining.add(c),
      close: (c) => this.close(c.state, this.shutdownRc, LostReason.ServerShutdown),
      forced: () => this.forced,
    });
    // Let the DISCONNECTs and FINs leave (close() destroys a socket the peer keeps open after 1 s).
    await this.until(() => this.conns.size === 0, 1500);
    // Lost-connection notices still unanswered after this are covered by the stop announcement.
    await this.until(() => this.sessionSends === 0 && this.lostNoticesWaiting === 0, SESSION_NOTICE_WAIT_MS);
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    try {
      bus.publish(subjects.gatewayHeartbeat, encodeHeartbeat({ gatewayId: this.gatewayId, stopping: true }));
      await bus.flush();
    } catch {
      /* bus already closed */
    }
    for (const s of this.subs.splice(0)) s.unsubscribe();
    this.traces.stop();
    this.routers.stop();
    this.listening = false;
  }

  /**
   * The stop deadline passed (or a second signal came): every connection still open is
   * closed now, with the same DISCONNECT, and the waits of stop() end.
   */
  force(): void {
    this.stopping = true;
    this.forced = true;
    this.listeners?.close();
    for (const c of [...this.conns.values()]) this.close(c.state, this.shutdownRc, LostReason.ServerShutdown);
  }

  /**
   * The shutdown broadcast (shutdown-broadcast.ts): one Deliver per shard owner for this
   * gateway's connected clients, then wait until each PUBLISH was written (bounded).
   */
  private async broadcastBeforeDrain(all: readonly Connection[]): Promise<void> {
    const c = this.config;
    const b = shutdownBroadcastOf(c['gateway.shutdownBroadcastTopic'], c['gateway.shutdownBroadcastPayload'], c['gateway.shutdownBroadcastQos'], c['gateway.shutdownBroadcastWaitMs']);
    if (!b) return;
    const states = all.map((x) => x.state);
    const wait = new BroadcastWait(states, b.message.topic);
    if (wait.done) return;
    this.broadcastWait = wait;
    const { bus, subjects, log } = this.deps;
    const timeoutMs = c['nats.requestTimeoutMs'];
    const byShard = broadcastTargets(states, b.message.qos);
    let failed = 0;
    for (const [shard, targets] of byShard) {
      // An id the retries keep: the owner takes the copy once (its Deliver deduplication).
      const data = encodeSessionIn({ kind: SessIn.Deliver, targets, message: b.message, id: `${this.routeIdPrefix}-bc-${shard}` });
      void retrying(() => bus.request(subjects.sessionIn(shard), data, { timeoutMs }), RETRY.shutdownBroadcastToOwner).catch((err: Error) => {
        failed++;
        log.warn('shutdown broadcast not taken by a shard owner', { shard, err });
      });
    }
    // Bounded by the wait (and the stop deadline), not by the owners' answers: a stop never hangs on them.
    await this.until(() => wait.done || failed === byShard.size, b.waitMs);
    this.count(wait.done ? 'shutdown_broadcast_written' : 'shutdown_broadcast_incomplete');
    log.info('shutdown broadcast sent', { topic: b.message.topic, clients: states.length, notWritten: wait.left });
    this.broadcastWait = undefined;
  }

  /** The DISCONNECT reason of a graceful stop: 0x9C with a Server Reference when one is configured. */
  private get shutdownRc(): number {
    return this.config['gateway.serverReference'] ? RC.USE_ANOTHER_SERVER : RC.SERVER_SHUTTING_DOWN;
  }

  /** Polls until cond() holds, the stop is forced, or maxMs passes. */
  private async until(cond: () => boolean, maxMs = Infinity): Promise<void> {
    const end = Date.now() + maxMs;
    while (!cond() && !this.forced && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  }

  /** Open client connections (the admin API's cluster view). */
  get connectionCount(): number {
    return this.conns.size;
  }

  private accept(socket: net.Socket, listener: string): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const refusal = admission(this.conns.size, this.preConnect.size, this.maxConnections, this.config['mqtt.maxPendingConnects']);
    if (refusal !== undefined) {
      this.refuseSocket(socket, refusal);
      return;
    }
    let readFrom = Date.now();
    if (this.connectBucket) {
      const waitMs = this.connectBucket.take(readFrom);
      if (waitMs > 0) {
        // The connect timeout counts from when we read, not while we hold the socket (mqtt.connectTimeoutMs).
        readFrom += waitMs;
        // Connect rate limit: hold the socket unread; its CONNECT is processed when a slot frees.
        this.count('connect_rate_limited');
        socket.pause();
        setTimeout(() => socket.resume(), waitMs).unref();
      }
    }
    this.m.connects.inc();
    const id = this.nextConnId;
    this.nextConnId = this.nextConnId >= 0xfffffffe ? 1 : this.nextConnId + 1;
    const c = new Connection(socket, id, readFrom, this.connContext(listener));
    const identity = listener === 'tls' ? this.config['mqtt.tlsCertIdentityAsUsername'] : listener === 'wss' ? this.config['mqtt.wssCertIdentityAsUsername'] : 'off';
    if (identity !== 'off') {
      const cert = verifiedPeerCertificate(socket);
      c.state.certUsername = (cert && certIdentity(cert, identity)) ?? '';
    }
    this.conns.set(id, c);
    this.preConnect.add(id);
    socket.on('error', ignoreSocketError);
    socket.on('close', this.onSocketClose);
  }

  private connContext(listener: string): ConnectionContext {
    let ctx = this.connContexts.get(listener);
    if (ctx === undefined) {
      ctx = {
        listener,
        mountpoint: this.config['mqtt.mountpoint'],
        maxPacketBytes: this.config['mqtt.maxPacketBytes'],
        highWaterBytes: this.config['mqtt.socketHighWaterBytes'],
        traffic: this.traffic,
        onPacket: this.onPacket,
        onBad: this.onBadInput,
        onFault: this.onConnFault,
        connectReads: this.connectReads,
      };
      this.connContexts.set(listener, ctx);
    }
    return ctx;
  }

  // Handlers shared by every connection (no closure per connection: memory per idle connection).

  private readonly onPacket = (conn: Connection, p: mqtt.Packet): void => {
    const now = Date.now();
    conn.state.lastRxAt = now;
    this.m.packetsIn(p.cmd);
    if (p.cmd === 'connect') this.traces.onConnect(conn, p.clientId, now);
    if (conn.tracer !== undefined) conn.tracer.packetIn(p);
    // A draining connection only finishes what it started: a publish or (un)subscribe
    // read now is left unanswered, and the client sends it again to the next gateway.
    if (this.stopping && this.draining.has(conn) && (p.cmd === 'publish' || p.cmd === 'subscribe' || p.cmd === 'unsubscribe')) return;
    if (p.cmd === 'publish' && this.publishRate > 0) this.throttlePublisher(conn, now);
    handlePacket(conn.state, p, this);
  };

  private readonly onBadInput = (conn: Connection, why: 'too-large' | 'malformed', err?: Error): void => {
    this.count(why === 'too-large' ? 'packet_too_large' : 'malformed_packet');
    if (this.deps.log.enabled('debug')) this.deps.log.debug('closing connection on bad input', { peer: conn.state.peer, why, err });
    if (conn.state.phase === 'new' && err && /protocol version|protocol id/i.test(err.message)) {
      // [MQTT-3.1.2-2] unsupported protocol level: CONNACK 0x01 (3.1.1 format), then close.
      this.count('unsupported_protocol');
      conn.write(CONNACK_UNACCEPTABLE_PROTOCOL);
    }
    // [MQTT-4.13.1-1] malformed packet / larger than our Maximum Packet Size [MQTT-3.2.2-15] (5.0): 5.0 says why, then close.
    this.close(conn.state, why === 'too-large' ? RC.PACKET_TOO_LARGE : RC.MALFORMED, LostReason.ProtocolError);
  };

  private readonly onConnFault = (conn: Connection, err: unknown): void => this.fault(conn.state, err);

  /** 'close' of a client socket (a plain function: the emitter passes the socket as `this`). */
  private readonly onSocketClose: (this: net.Socket) => void;

  /** Closes a connection the gateway has no room for, unread; counted, logged at most every 10 s. */
  private refuseSocket(socket: net.Socket, why: Refusal): void {
    this.count(`connection_refused_${why}`);
    socket.on('error', () => {});
    socket.destroy();
    const now = Date.now();
    if (now - this.lastRefusalLogAt >= 10_000) {
      this.lastRefusalLogAt = now;
      const limit = why === 'max_connections' ? { setting: 'mqtt.maxConnections', value: this.maxConnections } : { setting: 'mqtt.maxPendingConnects', value: this.config['mqtt.maxPendingConnects'] };
      this.deps.log.warn('refusing new connections: limit reached', { ...limit, open: this.conns.size, pending: this.preConnect.size });
    }
  }

  /** Publish rate limit: a connection over its rate is not read until it is back under it. */
  private throttlePublisher(c: Connection, now: number): void {
    let b = this.publishBuckets.get(c);
    if (!b) {
      b = new TokenBucket(this.publishRate, Math.max(1, this.publishRate), now);
      this.publishBuckets.set(c, b);
    }
    const waitMs = b.take(now);
    if (waitMs > 0) {
      this.count('publish_rate_limited');
      c.socket.pause();
      setTimeout(() => {
        if (c.state.phase !== 'closed') c.socket.resume();
      }, waitMs).unref();
    }
  }

  private onSocketClosed(c: Connection): void {
    this.conns.delete(c.state.id);
    this.broadcastWait?.closed(c.state.id);
    this.preConnect.delete(c.state.id);
    if (c.state.phase !== 'closed') this.notifyLost(c, LostReason.SocketClosed, true);
    c.state.phase = 'closed';
    this.clientLog.disconnected(c, Date.now());
  }

  /**
   * Tells the owner the connection is gone (once), unless the client said DISCONNECT. `paced`
   * (a socket the peer closed): within the per-turn budget (connectReads), since when thousands
   * of clients go at once, one poll phase closes all their sockets, and each notice is the owner's
   * connection-lost handling (in one process the Will published and routed in the same turn).
   * Deferring cannot reorder: the notice is the connection's last envelope and everything it sent
   * before went to the owner already; the Will waits a few turns at most [MQTT-3.1.2-8] (published
   * when the connection is closed; 5.0 adds the Will Delay Interval, counted by the owner).
   */
  private notifyLost(c: Connection, reason: LostReason, paced = false): void {
    if (c.sessionNotified) return;
    c.sessionNotified = true;
    const st = c.state;
    if (st.phase !== 'connected' || st.cleanlyDisconnected) return;
    const env: SessionInEnv = { kind: SessIn.ConnLost, key: st.key, epoch: st.epoch, reason };
    if (!paced) {
      this.toSession(st, env);
      return;
    }
    let deferred = false;
    const send = (): void => {
      if (deferred) this.lostNoticesWaiting--;
      this.toSession(st, env);
    };
    if (this.connectReads.run(send)) return;
    deferred = true;
    this.lostNoticesWaiting++;
    this.count('conn_lost_held_for_turn');
  }

  /** Keepalive (1.5x: [MQTT-3.1.2-24] in 3.1.1, [MQTT-3.1.2-22] in 5.0) and connect timeout, swept for all connections at once. */
  private sweep(): void {
    const now = Date.now();
    const connectTimeout = this.config['mqtt.connectTimeoutMs'];
    for (const c of this.conns.values()) {
      try {
        this.sweepOne(c, now, connectTimeout);
      } catch (err) {
        this.fault(c.state, err);
      }
    }
  }

  private sweepOne(c: Connection, now: number, connectTimeout: number): void {
    const st = c.state;
    // Only a client that has not sent its CONNECT is timed out: once it has, it waits for us (the
    // auth service, possibly behind mqtt.maxAuthInFlight, then its session owner), and each of those
    // waits ends by itself (request timeouts); timing it out would refuse a client for our own load.
    if (st.phase === 'new') {
      if (now - st.openedAt > connectTimeout && !this.connectReads.holds(c)) {
        this.count('connect_timeout');
        this.close(st, undefined, LostReason.ProtocolError);
      }
    } else if (st.phase === 'connected' && st.keepaliveMs > 0 && now - st.lastRxAt > st.keepaliveMs * 1.5) {
      this.count('keepalive_timeout');
      this.close(st, RC.KEEPALIVE_TIMEOUT, LostReason.KeepaliveTimeout);
    }
  }

  // ---- GatewayPorts ----

  now(): number {
    return Date.now();
  }

  send(st: ConnState, p: mqtt.Packet): void {
    const c = this.conns.get(st.id);
    if (!c) return;
    const bytes = encodeOwnPacket(st, p);
    if (bytes === undefined)
      this.count('control_too_large_dropped'); // [MQTT-3.1.2-24] (5.0)
    else c.write(bytes);
  }

  close(st: ConnState, rc: number | undefined, reason: LostReason): void {
    const c = this.conns.get(st.id);
    if (!c || st.phase === 'closed') return;
    this.preConnect.delete(st.id);
    c.closedBy = closeReason(st, reason, rc);
    this.notifyLost(c, reason);
    if (rc !== undefined && st.proto === 5 && st.phase === 'connected') {
      const text = REASON_TEXT[rc];
      const properties: mqtt.IDisconnectPacket['properties'] = text ? { reasonString: text } : {};
      const ref = this.config['gateway.serverReference'];
      if (rc === RC.USE_ANOTHER_SERVER && ref) properties.serverReference = ref;
      const bytes = encodeOwnPacket(st, { cmd: 'disconnect', reasonCode: rc, properties } as mqtt.Packet);
      if (bytes === undefined)
        this.count('control_too_large_dropped'); // [MQTT-3.1.2-24] (5.0)
      else c.write(bytes);
    }
    st.phase = 'closed';
    c.uncorkNow();
    c.socket.end();
    // Do not wait for a client that never reads: destroy shortly after.
    setTimeout(() => c.socket.destroy(), 1000).unref();
  }

  /**
   * Sends an envelope to the client's shard owner. One process: a plain publish (the owner is
   * always there). Over NATS: a request the owner answers once the change is persisted (in
   * one owner-direct batch per owner per turn once the owner is known, owner-direct.ts),
   * retried with backoff while the shard has no owner (a move or a crash takeover), so acks,
   * SUBSCRIBEs, DISCONNECTs and lost connections are not dropped in that gap.
   */
  toSession(st: ConnState, env: SessionInEnv): void {
    const { bus, subjects, log } = this.deps;
    const subject = subjects.sessionIn(st.shard);
    if (bus.kind === 'memory') {
      // Handed over as the object (never modified once sent); a QoS 2 message gets its own bytes.
      bus.publish(subject, new BusValue(sessionInCodec, env.kind === SessIn.Publish2 ? { ...env, message: ownedMessage(env.message) } : env));
      return;
    }
    const data = encodeSessionIn(env);
    const timeoutMs = this.config['nats.requestTimeoutMs'];
    const closing = env.kind === SessIn.ConnLost || env.kind === SessIn.Disconnect;
    this.sessionSends++;
    retrying(() => this.owners.request(st.shard, data, timeoutMs), closing ? RETRY.connLostToOwner : RETRY.envelopeToOwner)
      .catch((err: Error) => {
        this.count('session_message_undelivered');
        log.warn('session message not delivered: no shard owner answered', { kind: env.kind, err });
        // An ack, SUBSCRIBE or QoS 2 step the owner never got would stall this connection (a
        // window slot held, a SUBACK never sent): close it, so the client reconnects and the
        // session resends what it owes [MQTT-4.4.0-1].
        if (!closing && st.phase === 'connected' && 'epoch' in env && env.epoch === st.epoch) this.close(st, RC.UNSPECIFIED, LostReason.ProtocolError);
      })
      .finally(() => this.sessionSends--);
  }

  async connectSession(env: import('../../common/src/index.js').ConnectEnv) {
    const { bus, subjects } = this.deps;
    const data = encodeSessionIn(env);
    const timeoutMs = this.config['nats.requestTimeoutMs'];
    // During a shard move nobody answers for a moment: retry, the CONNACK is late, not an error.
    const shard = shardOf(env.key, this.shards);
    const r = await retrying(() => bus.request(subjects.sessionIn(shard), data, { timeoutMs }), RETRY.connectToOwner);
    const reply = decodeConnectReply(r.data);
    this.owners.know(shard, reply.ownerToken);
    return reply;
  }

  authenticate(req: import('../../common/src/index.js').AuthRequest, stillWanted: () => boolean = () => true) {
    return this.authLimit.run(() => this.auth.authenticate(req), stillWanted, CONNECTION_GONE);
  }

  route(st: ConnState, m: import('../../common/src/index.js').Message, ack: boolean): Promise<number> | undefined {
    // QoS 1/2: an id the retries below keep, so a retry after a lost answer is routed once.
    const id = ack ? `${this.routeIdPrefix}${(++this.routeSeq).toString(36)}` : undefined;
    // One process: the envelope is handed over as the object, with bytes of its own (owned-message.ts).
    const message = this.deps.bus.kind === 'memory' ? ownedMessage(m) : m;
    const data = new BusValue(routePublishCodec, { mountpoint: st.mountpoint, message, id });
    // Every message of a connection goes to the router of its session's shard: in order [MQTT-4.6.0-6].
    if (!ack) {
      this.routers.publish(st.shard, data);
      return undefined;
    }
    const timeoutMs = this.config['nats.requestTimeoutMs'];
    // Retried without overtaking: a retry and what the connection publishes after it go in order.
    return this.routeRetry
      .run(st.id, () => this.routers.request(st.shard, data, timeoutMs))
      .then(
        (r) => decodeStatusSafe(r.data),
        () => ROUTE_FAILED,
      );
  }

  slowDown(st: ConnState): Promise<void> {
    this.count('publisher_slowed');
    const ms = this.config['gateway.slowPublisherDelayMs'];
    this.conns.get(st.id)?.holdInput(ms);
    return new Promise((r) => setTimeout(r, ms).unref());
  }

  count(what: string): void {
    this.m.events(what);
  }

  refuse(st: ConnState, f: PacketFault): void {
    this.count(f.what);
    if (this.deps.log.enabled('debug')) this.deps.log.debug('closing connection on a refused packet', { peer: st.peer, clientId: st.clientId, what: f.what, rc: f.rc });
    if (st.proto === 5 && (st.phase === 'new' || st.phase === 'connecting')) {
      // Before CONNACK the answer is a CONNACK with the reason code [MQTT-3.2.2-7 in 5.0].
      const text = REASON_TEXT[f.rc];
      this.send(st, { cmd: 'connack', sessionPresent: false, reasonCode: f.rc, ...(text ? { properties: { reasonString: text } } : {}) } as mqtt.Packet);
    }
    this.close(st, f.rc, LostReason.ProtocolError);
  }

  fault(st: ConnState, err: unknown): void {
    this.count('internal_error');
    this.deps.log.error('internal error while handling a connection: closed it', { peer: st.peer, clientId: st.clientId, phase: st.phase, err });
    const c = this.conns.get(st.id);
    try {
      this.close(st, RC.IMPLEMENTATION_SPECIFIC, LostReason.ProtocolError);
    } catch (closeErr) {
      // Closing failed too (e.g. telling the owner): drop the socket; the owner's keepalive ends the session.
      this.deps.log.error('internal error while closing a faulted connection', { peer: st.peer, err: closeErr });
      st.phase = 'closed';
      c?.socket.destroy();
    }
  }

  authRefused(st: ConnState, username: string | undefined, reason: string): void {
    if (!this.config['events.enabled']) return;
    // The auth service's answers are spelled with dashes (bad-credentials); events use underscores.
    const event: AuthRefusedEvent = {
      type: 'client.auth_refused',
      ts: Date.now(),
      mountpoint: st.mountpoint,
      clientId: st.clientId,
      peer: st.peer,
      reason: reason.replace(/-/g, '_'),
      gateway: this.gatewayId,
    };
    if (username !== undefined) event.username = username;
    publishClientEvent(this.deps.bus, this.deps.subjects, event);
  }

  newClientId(): string {
    return `shardmq-${randomBytes(9).toString('base64url')}`;
  }

  connected(st: ConnState): void {
    this.preConnect.delete(st.id);
    const c = this.conns.get(st.id);
    if (!c) return;
    c.connectedAt = Date.now();
    this.clientLog.connected(c);
    const { out, early } = st.takeEarly();
    if (out) for (const it of out) this.onOut(it);
    if (early) for (const p of early) handlePacket(st, p, this);
  }

  // ---- session output ----

  /** Session output for one connection; a bug while writing it closes that connection only. */
  private onOut(it: GatewayOutItem): void {
    const c = this.conns.get(it.connId);
    if (!c) {
      // A copy for a connection that closed or moved (a router's QoS 0 direct path learns of it
      // from the owner a moment later): at most once allows dropping it [MQTT-4.3.1].
      if (it.kind === GwOut.Publish && it.qos === 0) this.count('qos0_dropped_connection_gone');
      return;
    }
    try {
      this.writeOut(c, it);
    } catch (err) {
      this.fault(c.state, err);
    }
  }

  private writeOut(c: Connection, it: GatewayOutItem): void {
    const st = c.state;
    if (st.phase === 'connecting') {
      if (st.pendingOut.length < PENDING_OUT_MAX) st.pendingOut.push(it);
      return;
    }
    if (st.phase !== 'connected' || it.epoch !== st.epoch) {
      // Stale epoch: an older connection's output (a QoS 0 copy sent direct is dropped and counted).
      if (it.kind === GwOut.Publish && it.qos === 0) this.count('qos0_dropped_connection_gone');
      return;
    }
    switch (it.kind) {
      case GwOut.Control:
        this.writeControl(c, encodeControl(st.proto, it));
        return;
      case GwOut.Packet:
        this.writeControl(c, it.bytes);
        return;
      case GwOut.Publish: {
        if (it.qos === 0 && c.overloaded()) {
          this.count('qos0_dropped_slow_consumer');
          return;
        }
        // Written or discarded, the shutdown broadcast is done with this connection.
        this.broadcastWait?.written(c.state.id, it.epoch, it.message.topic, it.message.origin);
        const shared = this.sharedPublish.write(st, it, c);
        if (shared === true) return;
        if (shared === undefined) {
          const bytes = encodePublishWithin(st, it, Date.now());
          if (bytes !== undefined) {
            c.write(bytes);
            return;
          }
        }
        // [MQTT-3.1.2-25] (5.0) discarded, and completed as if sent: the owner frees its packet id.
        this.count('publish_too_large_dropped');
        if (it.qos > 0) this.toSession(st, { kind: SessIn.PublishDropped, key: st.key, epoch: st.epoch, packetId: it.packetId });
        return;
      }
      case GwOut.Close:
        // The owner closed it (takeover, failure): 5.0 gets DISCONNECT with the reason.
        this.close(st, it.rc === 0xff ? undefined : it.rc, LostReason.ProtocolError);
        return;
    }
  }

  /**
   * An ack, SUBACK or UNSUBACK the owner asked for. [MQTT-3.1.2-24] (5.0) holds for these too;
   * only a client announcing a Maximum Packet Size below a few bytes (a SUBACK: one byte per
   * filter) can refuse one, and it is then discarded and counted.
   */
  private writeControl(c: Connection, bytes: Buffer): void {
    if (!fitsClient(c.state, bytes)) {
      this.count('control_too_large_dropped');
      return;
    }
    c.write(bytes);
  }
}
