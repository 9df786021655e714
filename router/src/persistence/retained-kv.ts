import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/transport-node';
import { type Config, type Message, decodeRoutePublish, encodeRoutePublish, type Logger } from '../../../common/src/index.js';

/**
 * Retained messages in the `<prefix>-retained` KV bucket, key `r.<sha256(mountpoint NUL
 * topic)>` (never the raw topic), value the binary route envelope (mountpoint + message).
 * The router that handles a retained publish writes it before acknowledging; every router
 * loads the bucket at start and follows it with a watch, which also keeps several routers
 * in sync. Routers only.
 */
export class RetainedKv {
  private watch?: QueuedIterator<KvWatchEntry>;
  private stopped = false;

  private constructor(
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  static async open(nc: NatsConnection, c: Config, log: Logger): Promise<RetainedKv> {
    const kvm = new Kvm(jetstream(nc));
    const kv = await kvm.create(`${c['cluster.bucketPrefix']}-retained`, { replicas: c['cluster.replicas'], storage: c['cluster.storage'], history: 1 });
    return new RetainedKv(kv, log);
  }

  static keyOf(mountpoint: string, topic: string): string {
    return `r.${createHash('sha256').update(mountpoint).update('\u0000').update(topic).digest('hex').slice(0, 32)}`;
  }

  /** Stores (or, for an empty payload, deletes) a retained message; resolves once durable. */
  async store(mountpoint: string, m: Message): Promise<void> {
    const k = RetainedKv.keyOf(mountpoint, m.topic);
    if (m.payload.length === 0) await this.kv.delete(k);
    else await this.kv.put(k, encodeRoutePublish({ mountpoint, message: m }));
  }

  /**
   * Delivers every stored message (set) and every later change (set or delete) to the
   * callbacks; resolves once the stored ones are all delivered.
   */
  async follow(set: (mountpoint: string, m: Message) => void, del: (key: string) => void): Promise<void> {
    const status = await this.kv.status();
    let initial = status.values;
    let resolveLoaded!: () => void;
    const loaded = new Promise<void>((r) => (resolveLoaded = r));
    if (initial === 0) resolveLoaded();
    this.watch = await this.kv.watch({ key: 'r.>' });
    const w = this.watch;
    void (async () => {
      try {
        for await (const e of w) {
          if (e.operation === 'PUT') {
            try {
              const p = decodeRoutePublish(e.value);
              set(p.mountpoint, { ...p.message, payload: Buffer.from(p.message.payload) });
            } catch (err) {
              this.log.warn('undecodable retained message in the store; ignored', { err: err as Error });
            }
          } else del(e.key);
          if (initial > 0 && (e.delta === 0 || --initial === 0)) {
            initial = 0;
            resolveLoaded();
          }
        }
      } catch (err) {
        if (!this.stopped) this.log.warn('retained watch ended', { err: err as Error });
      }
    })();
    await loaded;
  }

  stop(): void {
    this.stopped = true;
    this.watch?.stop();
  }
}
