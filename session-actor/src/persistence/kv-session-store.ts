import type { KV } from '@nats-io/kv';
import type { Logger } from '../../../common/src/log.js';
import type { Metrics } from '../../../common/src/metrics.js';
import { shardOf } from '../../../common/src/shard.js';
import { decodeSession, encodeSession } from '../core/session-codec.js';
import type { Session } from '../core/session.js';
import { isCasConflict, sessionStoreKey } from './kv-buckets.js';
import { FencedError, type SessionStore } from './session-store.js';

/**
 * Sessions in the `<prefix>-sessions` KV bucket, key `s.<shard>.<sha256(session key)>`,
 * value the binary session (core/session-codec.ts). Every write is a compare-and-set on
 * the revision this process last read or wrote, so a paused ex-owner can never overwrite
 * what the new owner wrote. Session actors only.
 */
export class KvSessionStore implements SessionStore {
  readonly durable = true;
  private readonly revs = new Map<number, Map<string, number>>();
  private readonly m;

  constructor(
    private readonly kv: KV,
    private readonly shards: number,
    private readonly loadConcurrency: number,
    private readonly log: Logger,
    metrics: Metrics,
  ) {
    this.m = {
      bytes: metrics.counter('session_persisted_bytes_total', 'Bytes of session state written to JetStream KV.'),
      writes: metrics.counter('session_writes_total', 'Session state writes to JetStream KV, by operation.', ['op']),
    };
  }

  private revsOf(shard: number): Map<string, number> {
    let r = this.revs.get(shard);
    if (!r) {
      r = new Map();
      this.revs.set(shard, r);
    }
    return r;
  }

  async load(shard: number): Promise<Session[]> {
    const revs = this.revsOf(shard);
    revs.clear();
    const keys: string[] = [];
    for await (const k of await this.kv.keys(`s.${shard}.>`)) keys.push(k);
    const out: Session[] = [];
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const k = keys[next++]!;
        const e = await this.kv.get(k);
        if (!e || e.operation !== 'PUT' || e.value.length === 0) continue;
        try {
          const s = decodeSession(e.value);
          if (shardOf(s.key, this.shards) !== shard) {
            this.log.warn('session stored under the wrong shard; ignored (was the shard count changed?)', { shard });
            continue;
          }
          revs.set(s.key, e.revision);
          out.push(s);
        } catch (err) {
          this.log.error('undecodable stored session; ignored', { shard, err: err as Error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.loadConcurrency, keys.length) }, worker));
    return out;
  }

  async write(shard: number, entries: ReadonlyArray<readonly [string, Session | undefined]>): Promise<void> {
    const revs = this.revsOf(shard);
    let fenced: unknown;
    // Encode everything now (synchronously): the snapshot is the state at this instant.
    const ops = entries.map(([key, s]) => {
      const k = sessionStoreKey(shard, key);
      const rev = revs.get(key);
      if (!s) {
        if (rev === undefined) return Promise.resolve();
        this.m.writes.inc({ op: 'delete' });
        return this.kv.delete(k, { previousSeq: rev }).then(
          () => void revs.delete(key),
          (err: unknown) => {
            if (isCasConflict(err)) fenced = err;
            else throw err;
          },
        );
      }
      const data = encodeSession(s);
      this.m.bytes.inc(data.length);
      this.m.writes.inc({ op: 'put' });
      const p = rev === undefined ? this.kv.create(k, data) : this.kv.update(k, data, rev);
      return p.then(
        (r) => void revs.set(key, r),
        (err: unknown) => {
          if (isCasConflict(err)) fenced = err;
          else throw err;
        },
      );
    });
    const results = await Promise.allSettled(ops);
    if (fenced !== undefined) throw new FencedError(shard, fenced);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  forget(shard: number): void {
    this.revs.delete(shard);
  }
}
