import type { Effect } from './effects.js';
import { resendInflight } from './outbound.js';
import type { Session } from './session.js';
import type { ShardState } from './shard-state.js';

/**
 * A shard taken over from an owner that did not hand it off (it crashed, was fenced, or this is a
 * start with gateways still holding connections): for each session whose connection is still
 * open, send its in-flight PUBLISH (DUP set, original packet ids) and PUBREL again, then what
 * its window lets through from the queue.
 *
 * Why: an owner records a delivery as in flight and writes that, and only then sends the PUBLISH
 * to the gateway (write before acknowledge). An owner killed between the two leaves a delivery
 * its successor believes sent and the client never got; nothing would send it before the client
 * reconnected [MQTT-4.4.0-1], so a device that stays connected would never get it and its window
 * slot stays taken. Sending again may give the client a copy it already has: DUP tells it so,
 * a QoS 2 receiver answers PUBREC again without delivering twice [MQTT-4.3.3], and a QoS 1
 * duplicate is what at-least-once allows. MQTT 5.0 asks a server to resend only on reconnect
 * [MQTT-4.4.0-1] (5.0); we resend on the same connection in this one case, as EMQX's
 * retry_interval does, rather than close the connection (which would fire Wills of devices that
 * did nothing wrong). A planned handoff never needs it: the releasing owner sends everything
 * before it lets the lease go. The same gap opens when a NATS node dies under this owner's or
 * the gateway's bus connection: what was sent through it may be lost in transit, so the runner
 * also calls this for the sessions concerned once the connection is back. Runs on the shard
 * owner, right after loading the shard or after such a bus interruption.
 */
export function resumeAfterTakeover(st: ShardState, s: Session, now: number, out: Effect[]): boolean {
  if (!s.conn || (s.inflight.size === 0 && s.queue.length === 0)) return false;
  resendInflight(st, s, now, out);
  return true;
}
