import { SessIn, type SessionInEnv } from '../../../common/src/index.js';
import type { Continuation, Effect } from '../core/effects.js';

interface Held {
  shard: number;
  id: string;
  replies: Array<() => void>;
}

/**
 * A gateway's request is answered only once the packet the client waits for has left the owner.
 * A SUBSCRIBE's SUBACK, an UNSUBSCRIBE's UNSUBACK and a QoS 2 PUBLISH's PUBREC come from a
 * continuation (after the routers acknowledged), not from the turn that took the packet. Were the
 * request answered with that turn's write, an owner that loses its lease in between (paused, or
 * fenced by a takeover) would drop the continuation's output while the gateway counts the packet
 * as delivered: the client waits for its SUBACK for ever on a connection that stays up. Held back
 * instead, the answer never comes, the gateway's request times out and is sent again, and whoever
 * serves the shard then takes the packet again (a SUBSCRIBE replaces its subscriptions and is
 * acknowledged [MQTT-3.8.4-3]; a QoS 2 PUBLISH whose packet id is not yet released is
 * acknowledged with PUBREC again and not forwarded twice, as section 4.3.3 asks of a receiver).
 * A resend that arrives while the first one's continuation still runs (routers slow to answer)
 * joins it instead of being taken twice, so the client gets one SUBACK.
 * Runs on the shard owner.
 */
export class ReplyAfterContinuation {
  private readonly byThen = new WeakMap<Continuation, Held>();
  /** Per shard: packet id (idOf) -> what waits for its continuation. */
  private readonly byShard = new Map<number, Map<string, Held>>();

  /** Continuations waiting (tests and diagnostics). */
  get size(): number {
    let n = 0;
    for (const m of this.byShard.values()) n += m.size;
    return n;
  }

  /**
   * A resend of a packet whose continuation still runs: its answer joins the first one's, and
   * the envelope is not taken again (true). False for anything else.
   */
  join(shard: number, e: SessionInEnv, respond: (() => void) | undefined): boolean {
    if (!respond) return false;
    const id = idOf(e);
    const held = id === undefined ? undefined : this.byShard.get(shard)?.get(id);
    if (!held) return false;
    held.replies.push(respond);
    return true;
  }

  /**
   * If the turn's effects wait for a continuation, keeps `respond` for it and returns undefined
   * (nothing to answer with the turn's write); otherwise returns `respond` unchanged.
   */
  hold(shard: number, e: SessionInEnv, out: readonly Effect[], respond: (() => void) | undefined): (() => void) | undefined {
    if (!respond) return undefined;
    const id = idOf(e);
    if (id === undefined) return respond;
    for (const ef of out) {
      if ((ef.t === 'subs' || ef.t === 'route') && ef.then) {
        const held: Held = { shard, id, replies: [respond] };
        this.byThen.set(ef.then, held);
        let m = this.byShard.get(shard);
        if (!m) this.byShard.set(shard, (m = new Map()));
        m.set(id, held);
        return undefined;
      }
    }
    return respond;
  }

  /** The answers kept for this continuation (once), to release with the continuation's output. */
  take(then: Continuation): (() => void) | undefined {
    const held = this.byThen.get(then);
    if (!held) return undefined;
    this.byThen.delete(then);
    const m = this.byShard.get(held.shard);
    if (m?.get(held.id) === held) m.delete(held.id);
    return () => {
      for (const r of held.replies) r();
    };
  }

  /** The shard left this process: what waited for its continuations is never answered here. */
  drop(shard: number): void {
    this.byShard.delete(shard);
  }
}

/** What identifies a packet answered by a continuation: kind, session, connection epoch, packet id. */
function idOf(e: SessionInEnv): string | undefined {
  if (e.kind !== SessIn.Subscribe && e.kind !== SessIn.Unsubscribe && e.kind !== SessIn.Publish2) return undefined;
  return `${e.kind}\0${e.key}\0${e.epoch}\0${e.packetId}`;
}
