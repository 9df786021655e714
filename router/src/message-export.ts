import type { MsgHdrs } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, StorageType, type JetStreamClient } from '@nats-io/jetstream';
import {
  type Bus,
  natsConnection,
  toNatsHeaders,
  type Config,
  type Message,
  ROUTE_FAILED,
  ROUTE_OK,
  exportHeaders,
  subjectToken,
  topicTokens,
  LogEveryNth,
  type Logger,
  labelledCounter,
  type Metrics,
  type SubjectSpace,
  topicMatchesFilter,
  validateTopicFilter,
} from '../../common/src/index.js';

/**
 * Export of device messages to NATS for backends (docs/integration.md, "Exported messages"):
 * a message whose topic matches one of export.filters is published on
 * `<prefix>.messages.v1.<mountpoint>.<topic levels>`, payload as the body, the rest in headers.
 * With export.jetstream the copy is a JetStream publish into export.stream and the router
 * answers a QoS 1/2 publisher only after the stream acknowledged it (acknowledged = exported);
 * a retried publish carries the same Nats-Msg-Id, so the stream keeps it once.
 * Runs on routers: each routed message passes here once.
 */
export class MessageExport {
  private readonly failLog = new LogEveryNth();
  private readonly counted;

  private constructor(
    private readonly filters: readonly string[],
    private readonly bus: Bus,
    private readonly subjects: SubjectSpace,
    private readonly js: JetStreamClient | undefined,
    private readonly timeoutMs: number,
    private readonly log: Logger,
    metrics: Metrics,
  ) {
    this.counted = labelledCounter(
      metrics.counter('router_exported_messages_total', 'Device messages copied to the NATS export subjects, by result (ok, failed: JetStream did not acknowledge).', ['result']),
    );
  }

  /** Undefined when export.filters is empty. Creates the JetStream stream when asked for and missing. */
  static async open(c: Config, bus: Bus, subjects: SubjectSpace, log: Logger, metrics: Metrics): Promise<MessageExport | undefined> {
    const filters = c['export.filters'];
    if (filters.length === 0) return undefined;
    for (const f of filters) {
      const bad = validateTopicFilter(f, c['mqtt.maxTopicLevels']);
      if (bad) throw new Error(`setting export.filters (SHARDMQ_EXPORT_FILTERS): "${f}" is not a topic filter: ${bad}`);
    }
    let js: JetStreamClient | undefined;
    if (c['export.jetstream']) {
      if (bus.kind !== 'nats') throw new Error('setting export.jetstream (SHARDMQ_EXPORT_JETSTREAM) needs nats.url: the in-memory bus has no JetStream');
      const nc = natsConnection(bus);
      const jsm = await jetstreamManager(nc);
      const name = c['export.stream'];
      const config = {
        name,
        subjects: [subjects.exportedMessagesAll],
        storage: c['cluster.storage'] === 'memory' ? StorageType.Memory : StorageType.File,
        num_replicas: c['cluster.replicas'],
        max_age: c['export.maxAgeS'] * 1_000_000_000,
        max_bytes: c['export.maxBytes'],
        duplicate_window: 120 * 1_000_000_000,
      };
      try {
        await jsm.streams.info(name);
      } catch {
        // Several routers may start at once: one creates it, the others find it.
        await jsm.streams.add(config).catch(async (err: Error) => {
          await jsm.streams.info(name).catch(() => {
            throw err;
          });
        });
      }
      js = jetstream(nc);
    } else if (bus.kind !== 'nats') log.warn('export.filters is set but nats.url is not: exported messages stay inside this process');
    log.info('exporting device messages', { filters, jetstream: js !== undefined });
    return new MessageExport(filters, bus, subjects, js, c['nats.requestTimeoutMs'], log, metrics);
  }

  /**
   * Copies a device message when it matches. Returns, with JetStream, a promise of the route
   * status the publisher's answer must wait for (ROUTE_FAILED when the stream did not take it);
   * undefined when there is nothing to wait for. `id` is the publish's route id (retries keep it).
   */
  offer(mountpoint: string, m: Message, id: string | undefined): Promise<number> | undefined {
    if (!this.matches(m.topic)) return undefined;
    const clientId = mountpoint === '' ? m.origin : m.origin.slice(mountpoint.length + 1);
    const subject = this.subjects.exportedMessage(subjectToken(mountpoint), topicTokens(m.topic));
    const h = exportHeaders(mountpoint, clientId, m);
    if (!this.js) {
      this.bus.publish(subject, m.payload, { headers: h });
      this.counted('ok');
      return undefined;
    }
    const opts: { headers: MsgHdrs; timeout: number; msgID?: string } = { headers: toNatsHeaders(h), timeout: this.timeoutMs };
    if (id !== undefined) opts.msgID = id;
    return this.js.publish(subject, m.payload, opts).then(
      () => {
        this.counted('ok');
        return ROUTE_OK;
      },
      (err: Error) => {
        this.counted('failed');
        const n = this.failLog.hit('jetstream');
        if (n !== undefined) this.log.warn('message export to JetStream failed', { err, occurrences: n, stream: subject });
        return ROUTE_FAILED;
      },
    );
  }

  private matches(topic: string): boolean {
    for (const f of this.filters) if (topicMatchesFilter(f, topic)) return true;
    return false;
  }
}
