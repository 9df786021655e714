import { LostReason, type ConnLostEnv, type DisconnectEnv, type GatewayGoneEnv, type DisconnectReason } from '../../../common/src/index.js';
import type { Effect } from './effects.js';
import { closeConnection, connectionClosed, discardWill } from './session-end.js';
import type { ShardState } from './shard-state.js';

const RC_DISCONNECT_WITH_WILL = 0x04;
const RC_UNSPECIFIED = 0x80;

/** How a lost connection is named in the disconnected event (docs/integration.md). */
const LOST_REASON: Record<number, DisconnectReason> = {
  [LostReason.SocketClosed]: 'socket_closed',
  [LostReason.KeepaliveTimeout]: 'keepalive_timeout',
  [LostReason.ProtocolError]: 'protocol_error',
  [LostReason.GatewayGone]: 'gateway_gone',
  [LostReason.ServerShutdown]: 'server_shutdown',
  [LostReason.Backpressure]: 'backpressure',
};

/**
 * DISCONNECT from the client: 0x00 (and every 3.1.1 DISCONNECT) discards the Will
 * [MQTT-3.14.4-3]; 5.0 reason 0x04 keeps it, so it is published (after its delay).
 * Shard owner only.
 */
export function handleDisconnect(st: ShardState, e: DisconnectEnv, now: number, out: Effect[]): void {
  const s = st.sessions.get(e.key);
  if (!s || s.epoch !== e.epoch || !s.conn) return;
  if (!(s.proto === 5 && e.rc === RC_DISCONNECT_WITH_WILL)) discardWill(s, out);
  if (e.sessionExpiryS !== undefined && s.proto === 5) s.expiryS = Math.min(e.sessionExpiryS, st.limits.maxExpiryS);
  connectionClosed(st, s, now, out, 'client_disconnect', s.proto === 5 ? e.rc : undefined);
}

/** The connection dropped without DISCONNECT: the Will path. Shard owner only. */
export function handleConnLost(st: ShardState, e: ConnLostEnv, now: number, out: Effect[]): void {
  const s = st.sessions.get(e.key);
  if (!s || s.epoch !== e.epoch || !s.conn) return; // [fencing] a late close of an older connection
  connectionClosed(st, s, now, out, LOST_REASON[e.reason] ?? 'socket_closed');
}

/** A gateway restarted or went silent: every connection it held is lost. Shard owner only. */
export function handleGatewayGone(st: ShardState, e: GatewayGoneEnv, now: number, out: Effect[]): void {
  for (const s of [...st.sessions.values()]) {
    if (!s.conn || s.conn.gateway !== e.gateway) continue;
    // The gateway may only have been late with its heartbeats (a loaded machine): if it still
    // lives, it closes the connection (5.0: DISCONNECT 0x80), so the client reconnects and finds
    // its session, instead of talking to a session that no longer counts it as connected.
    closeConnection(s, RC_UNSPECIFIED, out);
    connectionClosed(st, s, now, out, 'gateway_gone');
  }
}
