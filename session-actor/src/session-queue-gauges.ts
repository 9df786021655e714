import type { Metrics } from '../../common/src/index.js';
import type { ShardState } from './core/shard-state.js';

/** Scrapes closer together than this reuse the last walk (each gauge of one scrape reads the same totals). */
const REUSE_MS = 1000;

/**
 * Queue depth and inflight gauges of the sessions this process owns. Computed at scrape time
 * (one walk over the served sessions per scrape, shared by the three gauges), never on the
 * message path: the session core stays free of bookkeeping for metrics. Runs on the shard owner.
 */
export function registerQueueGauges(metrics: Metrics, shards: () => Iterable<ShardState>, now: () => number = Date.now): void {
  let at = Number.NEGATIVE_INFINITY;
  const totals = { queued: 0, queuedBytes: 0, inflight: 0 };
  const read = () => {
    const t = now();
    if (t - at < REUSE_MS) return totals;
    at = t;
    let queued = 0;
    let queuedBytes = 0;
    let inflight = 0;
    for (const st of shards()) {
      for (const s of st.sessions.values()) {
        queued += s.queue.length;
        queuedBytes += s.queuedBytes;
        inflight += s.inflight.size;
      }
    }
    totals.queued = queued;
    totals.queuedBytes = queuedBytes;
    totals.inflight = inflight;
    return totals;
  };
  metrics.gauge('session_queued_messages', 'Messages queued for clients (not yet sent) in the sessions this process owns.', [], (g) => g.set(read().queued));
  metrics.gauge('session_queued_bytes', 'Topic and payload bytes of the queued messages in the sessions this process owns (what session.maxQueuedBytes bounds).', [], (g) => g.set(read().queuedBytes));
  metrics.gauge('session_inflight_messages', 'QoS 1/2 messages sent and not yet acknowledged by clients, in the sessions this process owns.', [], (g) => g.set(read().inflight));
}
