import type { SessionInfo } from '../../../common/src/index.js';
import type { Session } from './session.js';

/**
 * What the admin API shows about one session, read from the owner's state (no change to it).
 * Pure; runs on the shard owner only.
 */
export function sessionInfo(s: Session): SessionInfo {
  const info: SessionInfo = {
    clientId: s.clientId,
    mountpoint: s.mountpoint,
    protocolVersion: s.proto,
    connected: s.conn !== undefined,
    sessionExpiryS: s.expiryS,
    subscriptions: [...s.subs.entries()].map(([raw, sub]) => ({
      filter: raw,
      qos: sub.qos,
      noLocal: sub.noLocal,
      retainAsPublished: sub.retainAsPublished,
      retainHandling: sub.retainHandling,
      ...(sub.subId > 0 ? { subscriptionId: sub.subId } : {}),
    })),
    queued: s.queue.length,
    queuedBytes: s.queuedBytes,
    inflight: s.inflight.size,
    willPending: s.will !== undefined,
  };
  if (s.conn) {
    info.gateway = s.conn.gateway;
    info.connId = s.conn.connId;
    info.epoch = s.epoch;
  } else if (s.expiresAt !== undefined) info.expiresAt = s.expiresAt;
  return info;
}
