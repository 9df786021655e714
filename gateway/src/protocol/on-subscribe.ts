import type { ISubscribePacket } from 'mqtt-packet';
import { checkSubscribe } from '../../../auth-service/src/acl/check-acl.js';
import { LostReason, SessIn, type SubscriptionRequest } from '../../../common/src/envelope/session-in.js';
import { isWildcardFilter, parseSharedFilter, validateTopicFilter } from '../../../common/src/topic.js';
import type { ConnState } from './conn-state.js';
import type { GatewayPorts } from './ports.js';
import { RC } from './reason-codes.js';

/**
 * SUBSCRIBE: validate each filter and check it against the client's ACL here (the gateway
 * holds the ACL); the session stores what passed and answers SUBACK. Gateway only.
 */
export function onSubscribe(c: ConnState, p: ISubscribePacket, ports: GatewayPorts): void {
  const lim = ports.limits;
  const v5 = c.proto === 5;
  const subId = v5 ? (p.properties?.subscriptionIdentifier as number | undefined) : undefined;
  if (p.subscriptions.length === 0 || subId === 0) {
    // [MQTT-3.8.3-3] at least one filter; a Subscription Identifier of 0 is a protocol error.
    ports.close(c, RC.PROTOCOL_ERROR, LostReason.ProtocolError);
    return;
  }
  const subs: SubscriptionRequest[] = [];
  for (const s of p.subscriptions) {
    let rc = 0xff;
    const shared = parseSharedFilter(s.topic);
    const inner = shared === undefined ? s.topic : shared === 'invalid' ? undefined : shared.filter;
    if (inner === undefined || validateTopicFilter(inner, lim.maxTopicLevels) !== undefined) {
      ports.count('topic_filter_invalid');
      rc = v5 ? RC.TOPIC_FILTER_INVALID : 0x80;
    } else if (shared && s.nl) {
      // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error.
      ports.close(c, RC.PROTOCOL_ERROR, LostReason.ProtocolError);
      return;
    } else if (!lim.allowWildcardSubscriptions && isWildcardFilter(inner)) {
      rc = v5 ? RC.WILDCARD_NOT_SUPPORTED : 0x80;
    } else if (!checkSubscribe(c.acl, inner, s.qos)) {
      ports.count('subscribe_not_authorized');
      rc = v5 ? RC.NOT_AUTHORIZED : 0x80;
    }
    subs.push({ filter: s.topic, qos: s.qos, noLocal: !!s.nl, retainAsPublished: !!s.rap, retainHandling: (s.rh ?? 0) as 0 | 1 | 2, rc });
  }
  ports.toSession(c, { kind: SessIn.Subscribe, key: c.key, epoch: c.epoch, packetId: p.messageId ?? 0, subscriptionId: subId ?? 0, subs });
}
