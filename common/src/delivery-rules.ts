import type { Message, QoS } from './envelope/message.js';

/**
 * The per-copy delivery rules, in one place for the two tiers that deliver: the shard owner
 * (every copy it sends or queues) and the router (QoS 0 copies it sends straight to an online
 * subscriber's gateway, docs/sharding.md "QoS 0 direct"). Pure.
 */

/** The delivered QoS: the lower of the message's and the subscription's [MQTT-3.8.4-8] (5.0; 3.1.1 [MQTT-3.8.4-6]). */
export function deliveredQos(subscriptionQos: QoS, messageQos: QoS): QoS {
  return subscriptionQos < messageQos ? subscriptionQos : messageQos;
}

/**
 * RETAIN of a forwarded copy: kept only for a subscription with Retain As Published
 * [MQTT-3.3.1-12] (5.0), cleared otherwise [MQTT-3.3.1-13]. (Retained messages sent because of
 * a SUBSCRIBE keep RETAIN: the owner sends those, not this rule.)
 */
export function deliveredRetain(retainAsPublished: boolean, messageRetain: boolean): boolean {
  return retainAsPublished && messageRetain;
}

/** [MQTT-3.3.2-5] (5.0) a message whose Message Expiry Interval has passed is not delivered. */
export function messageExpired(m: Message, now: number): boolean {
  const e = m.props?.expiresAt;
  return e !== undefined && e <= now;
}

/**
 * [MQTT-3.1.2-25] (5.0) a PUBLISH larger than the client's Maximum Packet Size is discarded as if
 * sent. The gateway checks the exact bytes it would write (topic alias, properties and all); this
 * is only the certain case, decided before the message travels: a PUBLISH holds at least its
 * payload, a 2-byte fixed header and the 2-byte length of its topic (empty when a topic alias
 * stands for it) [MQTT-3.3.2-1]. `maxPacketBytes` 0: the client set no limit.
 */
export function surelyTooLarge(maxPacketBytes: number, m: Message): boolean {
  return maxPacketBytes > 0 && m.payload.length + 4 > maxPacketBytes;
}
