import type { IPublishPacket, Packet } from 'mqtt-packet';
import { checkPublish, type Message, ROUTE_SLOW, LostReason, SessIn, validateTopicName } from '../../../common/src/index.js';
import type { ConnState, PendingAck } from './conn-state.js';
import { messageProps } from './message-props.js';
import { malformed, packetIdFault, protocolError, type PacketFault } from './packet-fault.js';
import { ALLOWED_PROPS, propertiesFault } from './property-rules.js';
import type { GatewayPorts } from './ports.js';
import { RC } from './reason-codes.js';
import { holdForVerdicts, knownVerdict, type Decided, type TopicAsk } from './topic-authorization.js';

/**
 * Writes PUBACKs in the order the PUBLISHes arrived [MQTT-4.6.0-2], as router answers come in.
 * A QoS 1 message the router could not accept is never acknowledged as delivered: 5.0 gets
 * PUBACK 0x80, 3.1.1 (which has no failure code) gets its connection closed so it resends.
 * A message refused for good (0x87 not authorized, 0x97 retained store full) is acknowledged
 * to 3.1.1 and dropped.
 */
export function flushAcks(c: ConnState, ports: GatewayPorts): void {
  while (c.acks.length > 0 && c.acks.peek()!.rc >= 0) {
    const a = c.acks.shift()!;
    if (c.phase !== 'connected') continue;
    // A refusal that a resend cannot fix (not authorized, a full retained store) is acknowledged
    // to 3.1.1 and dropped, so the client does not resend it forever.
    if (a.rc >= 0x80 && c.proto !== 5 && a.rc !== RC.NOT_AUTHORIZED && a.rc !== RC.QUOTA_EXCEEDED) {
      ports.close(c, undefined, LostReason.ProtocolError);
      return;
    }
    if (c.proto === 5 && a.rc !== 0) ports.send(c, { cmd: 'puback', messageId: a.packetId, reasonCode: a.rc } as Packet);
    else ports.send(c, { cmd: 'puback', messageId: a.packetId } as Packet);
  }
}

/**
 * The last topic name found valid and the level limit it was checked with: a publisher sends one
 * topic again and again (a read holds runs of them), and a string equal to it is valid too.
 */
let lastValidTopic = '';
let lastValidLevels = -1;

function validTopicName(topic: string, maxLevels: number): boolean {
  if (topic === lastValidTopic && maxLevels === lastValidLevels) return true;
  if (validateTopicName(topic, maxLevels) !== undefined) return false;
  lastValidTopic = topic;
  lastValidLevels = maxLevels;
  return true;
}

function inboundUnacked(c: ConnState): number {
  return c.inFlightIn;
}

/**
 * The fields of a PUBLISH before use: a Packet Identifier 1-65535 at QoS 1 and 2 [MQTT-2.2.1-3],
 * DUP 0 at QoS 0 [MQTT-3.3.1-2], MQTT 5 properties of the allowed kinds and types, a Response
 * Topic that is a topic name [MQTT-3.3.2-14]. The topic itself and the alias are checked by
 * onPublish (they answer 0x90 / 0x94). Pure; gateway only.
 */
export function publishFault(p: IPublishPacket, v5: boolean): PacketFault | undefined {
  if (p.qos > 0) {
    const f = packetIdFault(p.messageId);
    if (f) return f;
  } else if (p.dup) return malformed('dup_on_qos0');
  if (typeof p.topic !== 'string' || !Buffer.isBuffer(p.payload)) return malformed('publish_invalid');
  if (!v5 || p.properties === undefined) return undefined;
  const f = propertiesFault(p.properties, ALLOWED_PROPS.publish);
  if (f) return f;
  const rt = p.properties.responseTopic;
  if (rt !== undefined && validateTopicName(rt, Number.MAX_SAFE_INTEGER) !== undefined) return protocolError('response_topic_invalid');
  return undefined;
}

/**
 * PUBLISH from a client: topic alias, validation, Receive Maximum, ACL (and, with auth.http.aclUrl,
 * the per-message answer: the packet is handled again with `decided` once it is in), then to a
 * router (QoS 0/1) or through the publisher's session for exactly-once (QoS 2). Gateway only.
 */
export function onPublish(c: ConnState, p: IPublishPacket, ports: GatewayPorts, decided?: Decided): void {
  const fault = publishFault(p, c.proto === 5);
  if (fault) {
    ports.refuse(c, fault);
    return;
  }
  const lim = ports.limits;
  let topic = p.topic;
  const props = p.properties;
  if (props?.subscriptionIdentifier !== undefined) {
    ports.close(c, RC.PROTOCOL_ERROR, LostReason.ProtocolError); // [MQTT-3.3.4-6] not from a client
    return;
  }
  if (c.proto === 5 && props?.topicAlias !== undefined) {
    const alias = props.topicAlias;
    if (alias === 0 || alias > lim.maxTopicAlias) {
      ports.count('topic_alias_invalid');
      ports.close(c, RC.TOPIC_ALIAS_INVALID, LostReason.ProtocolError); // [MQTT-3.3.2-9]/[MQTT-3.3.2-10]
      return;
    }
    if (topic === '') {
      const known = c.aliasesIn.get(alias);
      if (known === undefined) {
        ports.close(c, RC.PROTOCOL_ERROR, LostReason.ProtocolError);
        return;
      }
      topic = known;
    } else c.aliasesIn.set(alias, topic);
  }
  // [MQTT-3.3.2-2] no wildcards in a topic name; [MQTT-4.7.3-1] not empty; UTF-8 rules [MQTT-1.5.4].
  if (!validTopicName(topic, lim.maxTopicLevels)) {
    ports.count('topic_name_invalid');
    ports.close(c, RC.TOPIC_NAME_INVALID, LostReason.ProtocolError);
    return;
  }
  const qos = p.qos;
  const packetId = qos > 0 ? p.messageId! : 0;
  if (qos === 2 && c.qos2In.has(packetId)) {
    // A resend of a QoS 2 PUBLISH not yet released: the session answers PUBREC without forwarding.
  } else if (qos > 0 && c.proto === 5 && inboundUnacked(c) >= lim.receiveMaximum) {
    ports.count('receive_maximum_exceeded');
    ports.close(c, RC.RECEIVE_MAXIMUM_EXCEEDED, LostReason.ProtocolError); // [MQTT-3.3.4-7]
    return;
  }
  const payload = p.payload as Buffer;
  let allowed = checkPublish(c.acl, topic, qos, p.retain, payload.length);
  if (allowed && ports.authorizeTopics) {
    const ask: TopicAsk = { action: 'publish', topic, qos, retain: p.retain };
    const v = knownVerdict(c, ask, ports.now(), decided);
    if (v === undefined) {
      holdForVerdicts(c, ports, [ask], lim.maxTopicVerdicts ?? 1000, (d) => onPublish(c, p, ports, d));
      return;
    }
    allowed = v;
  }
  if (!allowed) {
    ports.count('publish_not_authorized');
    if (c.proto !== 5 && lim.unauthorizedPublish === 'disconnect') {
      ports.close(c, undefined, LostReason.ProtocolError);
      return;
    }
    // 5.0: tell the publisher 0x87. 3.1.1 'drop': acknowledge and drop, so it does not resend forever.
    const rc = c.proto === 5 ? RC.NOT_AUTHORIZED : 0;
    if (qos === 1) {
      c.acks.push({ packetId, rc: rc || 0 });
      flushAcks(c, ports);
    } else if (qos === 2) {
      if (c.proto === 5) ports.send(c, { cmd: 'pubrec', messageId: packetId, reasonCode: rc } as Packet);
      else ports.send(c, { cmd: 'pubrec', messageId: packetId } as Packet);
    }
    return;
  }
  const m: Message = { topic, payload, qos, retain: p.retain, origin: c.key };
  if (c.proto === 5 && props) {
    const mp = messageProps(props, ports.now());
    if (mp) m.props = mp;
  }
  if (qos === 0) {
    ports.route(c, m, false);
    return;
  }
  if (qos === 1) {
    const a: PendingAck = { packetId, rc: -1 };
    c.acks.push(a);
    ports
      .route(c, m, true)!
      .then(async (code) => {
        // A subscriber queue past its bounds (backpressure policy): the PUBACK waits, and this
        // connection is not read meanwhile, so the publisher slows down instead of a message
        // being dropped after it was acknowledged.
        if (code === ROUTE_SLOW) await ports.slowDown(c);
        a.rc = code === 0x10 && c.proto === 5 ? RC.NO_MATCHING_SUBSCRIBERS : code >= 0x80 ? code : 0;
        flushAcks(c, ports);
      })
      .catch((err: unknown) => ports.fault(c, err)); // a bug here closes this connection, not the process
    return;
  }
  c.qos2In.add(packetId);
  ports.toSession(c, { kind: SessIn.Publish2, key: c.key, epoch: c.epoch, packetId, message: m });
}
