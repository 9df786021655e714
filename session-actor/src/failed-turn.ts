import { GwOut, encodeConnectReply } from '../../common/src/index.js';
import type { Effect } from './core/effects.js';
import type { ShardState } from './core/shard-state.js';

/**
 * What a shard turn leaves behind when the pure core threw (a bug): the turn's own effects are
 * discarded (nothing it produced was written, so nothing of it may be acknowledged), the
 * requester gets TURN_FAILED, and the session the turn was about loses its connection so the
 * client starts over with a fresh CONNECT instead of waiting forever for an answer that will
 * not come. Other sessions and other shards go on. Runs on the shard owner.
 */

/** Unspecified error: MQTT 5 CONNACK/DISCONNECT reason 0x80 [MQTT-3.2.2.2] (5.0). */
export const RC_UNSPECIFIED_ERROR = 0x80;

/**
 * The answer to a request on a shard inbox whose turn failed (or whose envelope did not decode).
 * Read as a ConnectReply it refuses the CONNECT (the gateway sends CONNACK 0x80, or 0x03 Server
 * unavailable to 3.1/3.1.1 clients); read as a status (Deliver, QoS 2: decodeStatusSafe) it is 0x80 = failed.
 */
export const TURN_FAILED = encodeConnectReply({ rc: RC_UNSPECIFIED_ERROR, sessionPresent: false, epoch: 0 });

/** Effects that close the live connection of `key` (if any) after its turn failed. */
export function closeAfterFailedTurn(st: ShardState, key: string | undefined): Effect[] {
  const s = key === undefined ? undefined : st.sessions.get(key);
  if (!s?.conn) return [];
  return [{ t: 'gw', gateway: s.conn.gateway, item: { kind: GwOut.Close, connId: s.conn.connId, epoch: s.epoch, rc: RC_UNSPECIFIED_ERROR } }];
}
