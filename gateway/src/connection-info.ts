import { decodeConnectionInfoRequest, encodeJson, type ConnectionInfoReply } from '../../common/src/index.js';
import type { Connection } from './connection.js';

/**
 * The admin API asks the gateway named by the session owner about one connection; the
 * epoch makes sure the answer is about the connection the owner meant, not a later one that
 * reused nothing but the id. Gateway only. Throws EnvelopeError on a request it cannot read
 * (the bus guard counts it; no answer).
 */
export function connectionInfoReply(data: Uint8Array, conns: ReadonlyMap<number, Connection>): Uint8Array {
  const req = decodeConnectionInfoRequest(data);
  const c = conns.get(req.connId);
  const st = c?.state;
  let reply: ConnectionInfoReply = { found: false };
  if (c && st && st.phase === 'connected' && st.epoch === req.epoch) {
    reply = { found: true, conn: { peer: st.peer, keepaliveS: st.keepaliveMs / 1000, listener: c.listener, ...(c.connectedAt !== undefined ? { connectedAt: c.connectedAt } : {}) } };
  }
  return encodeJson(reply);
}
