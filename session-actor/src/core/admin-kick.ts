import type { Effect } from './effects.js';
import { closeConnection, connectionClosed, endSession } from './session-end.js';
import type { ShardState } from './shard-state.js';

/** MQTT 5 DISCONNECT reason 0x98 Administrative action (5.0 section 3.14.2.1). */
export const RC_ADMINISTRATIVE_ACTION = 0x98;

export interface KickOutcome {
  found: boolean;
  disconnected: boolean;
  sessionDiscarded: boolean;
}

/**
 * An operator disconnects a client (admin API): its connection is closed by the server, MQTT 5
 * with DISCONNECT 0x98 (3.1.1 has no server DISCONNECT: the socket just closes). The client
 * sent no DISCONNECT, so its Will takes the usual path [MQTT-3.1.2-8] (after its Will Delay in
 * 5.0). With `discardSession` the session ends too: a pending Will goes out now (the session end
 * beats the delay, [MQTT-3.1.3-9]), subscriptions and queued messages are dropped.
 * Pure; runs on the shard owner only.
 */
export function adminKick(st: ShardState, key: string, discardSession: boolean, now: number, out: Effect[]): KickOutcome {
  const s = st.sessions.get(key);
  if (!s) return { found: false, disconnected: false, sessionDiscarded: false };
  const disconnected = s.conn !== undefined;
  if (disconnected) {
    closeConnection(s, RC_ADMINISTRATIVE_ACTION, out);
    // The gateway's lost-connection notice carries this epoch and finds no connection: ignored.
    connectionClosed(st, s, now, out, 'admin_disconnect', s.proto === 5 ? RC_ADMINISTRATIVE_ACTION : undefined);
  }
  let sessionDiscarded = false;
  if (discardSession && st.sessions.get(key) === s) {
    endSession(st, s, now, out, 'admin_discarded');
    sessionDiscarded = true;
  } else if (discardSession) sessionDiscarded = true; // an expiry-0 session already ended with its connection
  return { found: true, disconnected, sessionDiscarded };
}
