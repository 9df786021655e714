import { SessIn, type ConnectReply, type SessionInEnv } from '../../../common/src/index.js';
import type { Effect } from './effects.js';
import { handleConnect } from './handle-connect.js';
import { handleDeliver } from './handle-deliver.js';
import { handleConnLost, handleDisconnect, handleGatewayGone } from './handle-disconnect.js';
import { handlePubAck } from './handle-puback.js';
import { handlePubComp } from './handle-pubcomp.js';
import { handlePublish2 } from './handle-publish2.js';
import { handlePubRec } from './handle-pubrec.js';
import { handlePubRel } from './handle-pubrel.js';
import { handlePublishDropped } from './handle-publish-dropped.js';
import { handleSubscribe } from './handle-subscribe.js';
import { handleUnsubscribe } from './handle-unsubscribe.js';
import type { ShardState } from './shard-state.js';

/**
 * The session state machine's one entry point: handleIn(state, envelope, now) -> effects
 * (pushed into `out`), plus the CONNACK fields for a Connect. Pure: no I/O, no clock.
 * Shard owner only.
 */
export function handleIn(st: ShardState, e: SessionInEnv, now: number, out: Effect[]): ConnectReply | undefined {
  switch (e.kind) {
    case SessIn.Connect:
      return handleConnect(st, e, now, out);
    case SessIn.Subscribe:
      handleSubscribe(st, e, now, out);
      return;
    case SessIn.Unsubscribe:
      handleUnsubscribe(st, e, now, out);
      return;
    case SessIn.PubAck:
      handlePubAck(st, e, now, out);
      return;
    case SessIn.PubRec:
      handlePubRec(st, e, now, out);
      return;
    case SessIn.PubComp:
      handlePubComp(st, e, now, out);
      return;
    case SessIn.PubRel:
      handlePubRel(st, e, now, out);
      return;
    case SessIn.Publish2:
      handlePublish2(st, e, now, out);
      return;
    case SessIn.Disconnect:
      handleDisconnect(st, e, now, out);
      return;
    case SessIn.ConnLost:
      handleConnLost(st, e, now, out);
      return;
    case SessIn.Deliver:
      handleDeliver(st, e, now, out);
      return;
    case SessIn.GatewayGone:
      handleGatewayGone(st, e, now, out);
      return;
    case SessIn.PublishDropped:
      handlePublishDropped(st, e, now, out);
      return;
  }
}
