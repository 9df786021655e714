import { EnvelopeError, Writer } from '../../../common/src/index.js';
import { ShardLogChanges } from '../persistence/session-log-changes.js';
import { Batch, ShardReplay } from '../persistence/session-log-records.js';
import type { Session } from './session.js';

/**
 * Binary encoding of one whole Session: everything a new shard owner needs to continue it
 * (subscriptions, inflight window, queue, inbound QoS 2 ids, the Will with its absolute
 * deadline, the expiry deadline). The format is a one-session snapshot in the session log's
 * record format (persistence/session-log-records.ts), so there is one encoding of a session.
 * Shard owners no longer store sessions whole (the session log appends changes); this is for
 * tools and tests. Pure; any tier may call it.
 *
 * Layout: u8 version (2), u8 batch flags (first | last | snapshot), records.
 */

const VERSION = 2;

export function encodeSession(s: Session): Buffer {
  const w = new Writer();
  w.u8(VERSION).u8(Batch.First | Batch.Last | Batch.Snapshot);
  new ShardLogChanges().snapshot(w, [s]);
  return w.finish();
}

/** Throws EnvelopeError on anything but exactly one encoded session. */
export function decodeSession(data: Uint8Array): Session {
  if (data.length < 2) throw new EnvelopeError('session encoding truncated');
  if (data[0] !== VERSION) throw new EnvelopeError(`unknown session encoding version ${data[0]}`);
  if (data[1] !== (Batch.First | Batch.Last | Batch.Snapshot)) throw new EnvelopeError('not a whole-session encoding');
  const r = new ShardReplay();
  try {
    r.entry(data.subarray(1));
  } catch (err) {
    throw err instanceof EnvelopeError ? err : new EnvelopeError(`malformed session encoding: ${(err as Error).message}`);
  }
  const sessions = [...r.finish().sessions.values()];
  if (sessions.length !== 1) throw new EnvelopeError(`expected one session, found ${sessions.length}`);
  return sessions[0]!;
}
