import { connect, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { Logger } from '../log.js';
import { LogEveryNth } from '../log-every-nth.js';
import type { Metrics } from '../metrics.js';
import { bodyBytes, type BusBody } from './bus-value.js';
import { HandlerGuard } from './handler-guard.js';
import { writeOncePerTurn } from './nats-write-per-turn.js';
import { NatsRequestMux } from './nats-request-mux.js';
import { RequestLatency } from './request-latency.js';
import type { Bus, BusHandler, BusHeaders, BusMsg, BusStatus, BusSubscription, PublishOptions, RequestOptions, SubscribeOptions } from './bus.js';

/**
 * The production bus: one NATS connection per process (@nats-io/transport-node 3).
 * Passes the same contract tests as the memory bus (test/unit/bus-contract.test.ts).
 *
 * - Reconnects forever (`maxReconnectAttempts: -1`): server tiers must outlive a NATS restart;
 *   readiness follows onStatus().
 * - Callback subscriptions (no async iterators): the fastest delivery path in nats.js.
 * - Echo stays on: one process may both publish and serve a subject (one-process tiers on NATS).
 * - Headers: BusHeaders keys travel with their case unchanged; on receipt a key with several
 *   values yields the first. Received headers are converted lazily, only when read.
 */
export interface NatsBusOptions {
  servers: string | string[];
  /** Connection name shown by the NATS server's monitoring (e.g. node id and roles). */
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  log?: Logger;
  /** Where handler failures and malformed envelopes are counted (handler-guard.ts). */
  metrics?: Metrics;
}

/** A Bus backed by NATS; `connection` is for JetStream/KV users, not for plain messaging. */
export interface NatsBus extends Bus {
  readonly kind: 'nats';
  readonly connection: NatsConnection;
}

/** Connects to NATS. Rejects when the first connection attempt fails (bad URL, auth, no server). */
export async function connectNatsBus(opts: NatsBusOptions): Promise<NatsBus> {
  // noAsyncTraces: by default nats.js builds a RequestError and a TimeoutError (each capturing a
  // stack) for every request, in case it fails. Profiled under durable fan-out (10,000 router ->
  // shard requests/s), those constructors took 35-40 % of the router's, the session actor's and
  // the gateway's CPU. Bus requests go through NatsRequestMux anyway; this covers JetStream's.
  const co: NodeConnectionOptions = { servers: opts.servers, maxReconnectAttempts: -1, noEcho: false, noAsyncTraces: true };
  // Only set what was given: explicit undefined would override client defaults.
  if (opts.name !== undefined) co.name = opts.name;
  if (opts.user !== undefined) co.user = opts.user;
  if (opts.pass !== undefined) co.pass = opts.pass;
  if (opts.token !== undefined) co.token = opts.token;
  const nc = await connect(co);
  if (!writeOncePerTurn(nc)) opts.log?.warn('nats.js internals differ from 3.x: socket writes are not coalesced per event-loop turn');
  return new NatsBusImpl(nc, opts.log, opts.metrics);
}

export function isNatsBus(bus: Bus): bus is NatsBus {
  return bus.kind === 'nats' && bus instanceof NatsBusImpl;
}

/** The NatsConnection under a NATS bus (for JetStream/KV). Throws for the memory bus. */
export function natsConnection(bus: Bus): NatsConnection {
  if (!isNatsBus(bus)) throw new Error(`bus of kind ${bus.kind} has no NATS connection`);
  return bus.connection;
}

/** BusHeaders as NATS headers (also for JetStream publishes, which bypass the bus). */
export function toNatsHeaders(h: BusHeaders): MsgHdrs {
  const out = natsHeaders();
  for (const k in h) out.set(k, h[k]!);
  return out;
}

function fromNatsHeaders(h: MsgHdrs): BusHeaders {
  const out: BusHeaders = {};
  for (const [k, values] of h) if (values.length > 0) out[k] = values[0]!;
  return out;
}

class NatsBusMsg implements BusMsg {
  private hdrs: BusHeaders | undefined;
  constructor(private readonly m: Msg) {}

  get subject(): string {
    return this.m.subject;
  }
  get data(): Uint8Array {
    return this.m.data;
  }
  get reply(): string | undefined {
    return this.m.reply || undefined;
  }
  get headers(): BusHeaders | undefined {
    if (this.hdrs === undefined && this.m.headers !== undefined) this.hdrs = fromNatsHeaders(this.m.headers);
    return this.hdrs;
  }

  respond(data: Uint8Array, headers?: BusHeaders): boolean {
    if (!this.m.reply) return false;
    return this.m.respond(data, headers ? { headers: toNatsHeaders(headers) } : undefined);
  }
}

class NatsBusSub implements BusSubscription {
  constructor(private readonly sub: { unsubscribe(): void; drain(): Promise<void>; isClosed(): boolean }) {}
  unsubscribe(): void {
    // Unsubscribing after close is harmless: close already removed the interest.
    if (!this.sub.isClosed()) this.sub.unsubscribe();
  }
  async drain(): Promise<void> {
    if (!this.sub.isClosed()) await this.sub.drain();
  }
}

/** NATS's default max_payload, assumed until the server's INFO says otherwise. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

class NatsBusImpl implements NatsBus {
  readonly kind = 'nats' as const;
  private closed = false;
  private closePromise: Promise<void> | undefined;
  private readonly statusListeners: ((s: BusStatus) => void)[] = [];
  private readonly guard: HandlerGuard;
  private readonly requests: NatsRequestMux;
  private readonly latency: RequestLatency;
  private readonly tooLarge: { inc(): void };
  private readonly tooLargeLog = new LogEveryNth();

  constructor(
    readonly connection: NatsConnection,
    private readonly log: Logger | undefined,
    metrics: Metrics | undefined,
  ) {
    this.guard = new HandlerGuard(log, metrics);
    this.requests = new NatsRequestMux(connection);
    this.latency = new RequestLatency(metrics);
    this.tooLarge = metrics?.counter('bus_too_large_dropped_total', 'Bus messages dropped because they exceed the NATS server max_payload (a bug or an mqtt.maxPacketBytes above it).') ?? {
      inc: () => {},
    };
    void this.watchStatus();
    void connection.closed().then((err) => {
      if (err) this.log?.error('nats connection closed with error', { err });
      this.emit('closed');
    });
  }

  /** The connected server's max_payload (it may differ after a reconnect to another server). */
  get maxPayloadBytes(): number {
    return this.connection.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  }

  publish(subject: string, body: BusBody, opts?: PublishOptions): void {
    if (this.closed) throw new Error('bus closed');
    // A BusValue travels as its bytes: receivers decode them (and the bus guard drops what does not decode).
    const data = bodyBytes(body);
    if (data.length > this.maxPayloadBytes) {
      // nats.js throws here, often inside a timer or I/O callback: that would end the process.
      // Batching senders split below the limit; one message alone above it cannot travel.
      this.tooLarge.inc();
      const n = this.tooLargeLog.hit('publish');
      if (n !== undefined) this.log?.error('bus message larger than the server max_payload dropped', { subject, bytes: data.length, maxPayloadBytes: this.maxPayloadBytes, occurrences: n });
      return;
    }
    if (opts === undefined) {
      this.connection.publish(subject, data);
      return;
    }
    this.connection.publish(subject, data, {
      reply: opts.reply,
      headers: opts.headers ? toNatsHeaders(opts.headers) : undefined,
    });
  }

  subscribe(subject: string, handler: BusHandler, opts?: SubscribeOptions): BusSubscription {
    if (this.closed) throw new Error('bus closed');
    const log = this.log;
    const guarded = this.guard.wrap(subject, handler, opts?.errorReply);
    const sub = this.connection.subscribe(subject, {
      queue: opts?.queue,
      callback: (err, m) => {
        if (err) {
          // Terminal for this subscription (e.g. a permissions violation).
          log?.error('nats subscription error', { subject, err });
          return;
        }
        guarded(new NatsBusMsg(m));
      },
    });
    return new NatsBusSub(sub);
  }

  async request(subject: string, body: BusBody, opts: RequestOptions): Promise<BusMsg> {
    if (this.closed) throw new Error('bus closed');
    return this.latency.timed(this.requests.request(subject, bodyBytes(body), opts.timeoutMs, opts.headers ? toNatsHeaders(opts.headers) : undefined).then((m) => new NatsBusMsg(m)));
  }

  async flush(): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    await this.connection.flush();
  }

  close(): Promise<void> {
    // Idempotent: shutdown paths may race to close the shared bus.
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  onStatus(cb: (status: BusStatus) => void): void {
    this.statusListeners.push(cb);
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    this.requests.close(new Error('bus closed'));
    if (this.connection.isClosed()) return;
    // Drain: deliver what subscriptions already received, send what was published, then close.
    if (!this.connection.isDraining()) await this.connection.drain();
    else await this.connection.closed();
  }

  private emit(s: BusStatus): void {
    for (const cb of this.statusListeners) {
      try {
        cb(s);
      } catch (err) {
        this.log?.warn('bus status listener threw', { status: s, err: err instanceof Error ? err : String(err) });
      }
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.connection.status()) {
      switch (s.type) {
        case 'disconnect':
          this.log?.warn('nats disconnected', { server: s.server });
          this.emit('disconnected');
          break;
        case 'reconnecting':
          this.emit('reconnecting');
          break;
        case 'reconnect':
          this.log?.info('nats reconnected', { server: s.server });
          this.emit('connected');
          break;
        case 'error':
          this.log?.error('nats error', { err: s.error });
          break;
        case 'slowConsumer':
          this.log?.warn('nats slow consumer', { subject: s.sub.getSubject(), pending: s.pending });
          break;
        case 'staleConnection':
          this.log?.warn('nats stale connection');
          break;
        case 'ldm':
          this.log?.warn('nats server entering lame duck mode', { server: s.server });
          break;
        default:
          break;
      }
    }
  }
}
