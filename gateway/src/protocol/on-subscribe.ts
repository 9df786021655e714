import type { ISubscribePacket } from 'mqtt-packet';
import { checkSubscribe, SessIn, type SubscriptionRequest, isWildcardFilter, parseSharedFilter, validateTopicFilter } from '../../../common/src/index.js';
import type { ConnState } from './conn-state.js';
import { malformed, packetIdFault, protocolError, type PacketFault } from './packet-fault.js';
import { ALLOWED_PROPS, propertiesFault } from './property-rules.js';
import type { GatewayPorts } from './ports.js';
import { RC } from './reason-codes.js';
import { holdForVerdicts, knownVerdict, type Decided, type TopicAsk } from './topic-authorization.js';

/**
 * The fields of a SUBSCRIBE before use: a Packet Identifier 1-65535 [MQTT-2.2.1-3], at least one
 * filter [MQTT-3.8.3-3] (5.0: a Protocol Error), MQTT 5 properties of the allowed kinds and types
 * with a Subscription Identifier of 1 to 268,435,455 (0 is a Protocol Error, 3.8.2.1.2).
 * mqtt-packet already refuses reserved option bits [MQTT-3.8.3-5], QoS 3 [MQTT-3.8.3-4 in 3.1.1]
 * and Retain Handling 3 (parse errors, answered 0x81). The filters themselves are judged one by
 * one in onSubscribe (SUBACK codes). Pure; gateway only.
 */
export function subscribeFault(p: ISubscribePacket, v5: boolean): PacketFault | undefined {
  const f = packetIdFault(p.messageId);
  if (f) return f;
  if (!Array.isArray(p.subscriptions) || p.subscriptions.length === 0) return protocolError('subscribe_empty');
  for (const s of p.subscriptions) if (typeof s.topic !== 'string' || !(s.qos >= 0 && s.qos <= 2)) return malformed('subscribe_invalid');
  if (!v5 || p.properties === undefined) return undefined;
  const g = propertiesFault(p.properties, ALLOWED_PROPS.subscribe);
  if (g) return g;
  if (p.properties.subscriptionIdentifier === 0) return protocolError('subscription_id_zero');
  return undefined;
}

/**
 * SUBSCRIBE: validate each filter and check it against the client's ACL here (the gateway
 * holds the ACL) and, with auth.http.aclUrl, against the per-message answers (asked all at once,
 * then the packet is handled again with `decided`); the session stores what passed and answers
 * SUBACK. Gateway only.
 */
export function onSubscribe(c: ConnState, p: ISubscribePacket, ports: GatewayPorts, decided?: Decided): void {
  const lim = ports.limits;
  const v5 = c.proto === 5;
  const fault = subscribeFault(p, v5);
  if (fault) {
    ports.refuse(c, fault);
    return;
  }
  const subId = v5 ? (p.properties?.subscriptionIdentifier as number | undefined) : undefined;
  const subs: SubscriptionRequest[] = [];
  // Counted only when the SUBACK is decided: a packet held for per-message answers runs twice.
  const counts: string[] = [];
  const asks: TopicAsk[] = [];
  for (const s of p.subscriptions) {
    let rc = 0xff;
    const shared = parseSharedFilter(s.topic);
    const inner = shared === undefined ? s.topic : shared === 'invalid' ? undefined : shared.filter;
    if (inner === undefined || validateTopicFilter(inner, lim.maxTopicLevels) !== undefined) {
      counts.push('topic_filter_invalid');
      rc = v5 ? RC.TOPIC_FILTER_INVALID : 0x80;
    } else if (shared && s.nl) {
      // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error.
      ports.refuse(c, protocolError('no_local_on_shared'));
      return;
    } else if (!lim.allowWildcardSubscriptions && isWildcardFilter(inner)) {
      rc = v5 ? RC.WILDCARD_NOT_SUPPORTED : 0x80;
    } else if (!checkSubscribe(c.acl, inner, s.qos)) {
      counts.push('subscribe_not_authorized');
      rc = v5 ? RC.NOT_AUTHORIZED : 0x80;
    } else if (ports.authorizeTopics) {
      const ask: TopicAsk = { action: 'subscribe', topic: s.topic, qos: s.qos, retain: false };
      const v = knownVerdict(c, ask, ports.now(), decided);
      if (v === undefined) asks.push(ask);
      else if (!v) {
        counts.push('subscribe_not_authorized');
        rc = v5 ? RC.NOT_AUTHORIZED : 0x80;
      }
    }
    subs.push({ filter: s.topic, qos: s.qos, noLocal: !!s.nl, retainAsPublished: !!s.rap, retainHandling: (s.rh ?? 0) as 0 | 1 | 2, rc });
  }
  if (asks.length > 0) {
    holdForVerdicts(c, ports, asks, lim.maxTopicVerdicts ?? 1000, (d) => onSubscribe(c, p, ports, d));
    return;
  }
  for (const what of counts) ports.count(what);
  ports.toSession(c, { kind: SessIn.Subscribe, key: c.key, epoch: c.epoch, packetId: p.messageId!, subscriptionId: subId ?? 0, subs });
}
