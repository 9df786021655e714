import { envelopeReader, envelopeWriter } from './envelope-version.js';

/** Gateway heartbeat on `gatewayHeartbeat`; `stopping` announces a graceful stop. */
export interface Heartbeat {
  gatewayId: string;
  stopping: boolean;
  /**
   * How many times this gateway's bus connection came back after an interruption (appended in
   * envelope 1.x; 0 when absent). Owners resend in-flight deliveries to its connections when it
   * grows: what they sent it during the gap may be lost (docs/sharding.md, "A NATS cluster").
   */
  busReconnects?: number;
}

/** Router heartbeat on `routerHeartbeat`; `stopping` announces a graceful stop. */
export interface RouterBeat {
  routerId: string;
  stopping: boolean;
  /**
   * The router takes QoS 0 route publishes in per-turn batches on `routeBatchTo(routerId)`
   * (appended in envelope 1.x; absent: it does not, send them one by one).
   */
  batches?: boolean;
}

/** Both heartbeats share one layout: the sender's id, then the stopping flag. */
function encodeBeat(id: string, stopping: boolean): Buffer {
  return envelopeWriter().str(id).bool(stopping).finish();
}

export function encodeHeartbeat(h: Heartbeat): Buffer {
  const w = envelopeWriter().str(h.gatewayId).bool(h.stopping);
  // Absent until the first reconnection: the heartbeat stays the 1.0 layout byte for byte.
  if (h.busReconnects) w.u32(h.busReconnects);
  return w.finish();
}

export function decodeHeartbeat(data: Uint8Array): Heartbeat {
  const r = envelopeReader(data);
  const h: Heartbeat = { gatewayId: r.str(), stopping: r.bool() };
  if (!r.done) h.busReconnects = r.u32();
  return h;
}

export function encodeRouterBeat(b: RouterBeat): Buffer {
  if (!b.batches) return encodeBeat(b.routerId, b.stopping);
  return envelopeWriter().str(b.routerId).bool(b.stopping).bool(true).finish();
}

export function decodeRouterBeat(data: Uint8Array): RouterBeat {
  const r = envelopeReader(data);
  const b: RouterBeat = { routerId: r.str(), stopping: r.bool() };
  if (!r.done && r.bool()) b.batches = true;
  return b;
}
