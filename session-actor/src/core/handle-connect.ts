import type { ConnectEnv, ConnectReply } from '../../../common/src/index.js';
import type { Effect } from './effects.js';
import { resendInflight } from './outbound.js';
import { createSession, NEVER_EXPIRES } from './session.js';
import { announcePresence, closeConnection, discardWill, endSession, publishWill } from './session-end.js';
import { takeEpoch, type ShardState } from './shard-state.js';
import { emitDisconnected, emitEvent } from './client-event.js';

const RC_SESSION_TAKEN_OVER = 0x8e;

/**
 * CONNECT reaches the shard owner after the gateway authenticated it. Resolves takeover,
 * restores or creates the session and answers with the CONNACK fields.
 * Runs on the shard owner only. Resends owed packets right after (the gateway holds them
 * until it has written the CONNACK).
 */
export function handleConnect(st: ShardState, e: ConnectEnv, now: number, out: Effect[]): ConnectReply {
  let s = st.sessions.get(e.key);
  if (s && !s.conn) {
    // Deadlines that passed before their timer ran (a late timer, a new owner re-arming):
    // the owed Will goes out and an expired session is gone, as if the timers had fired.
    if (s.willDueAt !== undefined && s.willDueAt <= now) publishWill(st, s, now, out);
    if (s.expiresAt !== undefined && s.expiresAt <= now) {
      out.push({ t: 'count', what: 'session_expired' });
      endSession(st, s, now, out, 'expired');
      s = undefined;
    }
  }
  if (s) {
    if (s.conn) {
      // [MQTT-3.1.4-2] takeover: disconnect the existing connection (5.0: DISCONNECT 0x8E).
      out.push({ t: 'count', what: 'takeover' });
      closeConnection(s, RC_SESSION_TAKEN_OVER, out);
      s.conn = undefined;
      // The old connection's event comes first: its epoch is smaller than the new one's.
      emitDisconnected(st, s, now, out, 'takeover');
      if (s.will) {
        if (st.limits.suppressWillOnTakeover) discardWill(s, out);
        else if (s.proto !== 5)
          publishWill(st, s, now, out); // [MQTT-3.1.2-8] the Will belongs to the closed connection
        else if (s.will.delayS === 0 || e.cleanStart || s.expiryS === 0)
          publishWill(st, s, now, out); // delay over, or the session ends
        else discardWill(s, out); // [MQTT-3.1.3-9] a new connection arrived within the delay
      }
    } else if (s.will) {
      // [MQTT-3.1.3-9] a new network connection before the Will Delay passed: never send it.
      discardWill(s, out);
    }
    if (s.expiresAt !== undefined) {
      s.expiresAt = undefined;
      out.push({ t: 'timer', key: s.key, kind: 'expiry', at: undefined });
    }
    // [MQTT-3.1.2-4] Clean Start discards the existing session; 3.1.1 [MQTT-3.1.2-6] likewise.
    if (e.cleanStart || s.expiryS === 0) {
      endSession(st, s, now, out, 'clean_start');
      s = undefined;
    }
  }
  const sessionPresent = s !== undefined; // [MQTT-3.2.2-2]/[MQTT-3.2.2-3]
  if (!s) {
    s = createSession(e.key, e.mountpoint, e.clientId, e.proto, takeEpoch(st));
    st.sessions.set(e.key, s);
    emitEvent(st, s, now, out, { type: 'session.created' });
  }
  s.proto = e.proto;
  s.epoch = takeEpoch(st);
  s.conn = { gateway: e.gateway, connId: e.connId };
  s.receiveMaximum = e.receiveMaximum;
  s.maxPacketBytes = e.maxPacketBytes;
  if (e.proto === 5) s.expiryS = Math.min(e.sessionExpiryS ?? 0, st.limits.maxExpiryS);
  else s.expiryS = e.cleanStart ? 0 : Math.min(st.limits.v3PersistentExpiryS, NEVER_EXPIRES);
  if (e.will) {
    // 3.1.1 has no Will Delay; the opt-in non-standard grace applies v3WillDelayS.
    const delayS = e.proto === 5 ? e.will.delayS : st.limits.v3WillDelayS;
    s.will = { message: e.will.message, delayS };
  } else s.will = undefined;
  if (st.limits.emitEvents) {
    emitEvent(st, s, now, out, {
      type: 'client.connected',
      ...(e.username !== undefined ? { username: e.username } : {}),
      protocol: e.proto,
      cleanStart: e.cleanStart,
      sessionPresent,
      keepaliveS: e.keepaliveS,
      sessionExpiryS: s.expiryS,
      gateway: e.gateway,
    });
  }
  if (sessionPresent) {
    announcePresence(s, true, out);
    resendInflight(st, s, now, out);
  }
  return { rc: 0, sessionPresent, epoch: s.epoch };
}
