import type { Packet } from 'mqtt-packet';

/**
 * What a client trace logs of one MQTT packet: type, packet id, QoS, topic, flags, reason codes,
 * payload length and the names of the MQTT 5 properties present. Never a payload, a password,
 * Authentication Data or property values (user properties may carry anything). Pure; gateway only.
 */
export function traceFields(p: Packet): Record<string, unknown> {
  const f: Record<string, unknown> = { type: p.cmd };
  const any = p as unknown as Record<string, unknown>;
  if (typeof any.messageId === 'number') f.packetId = any.messageId;
  switch (p.cmd) {
    case 'connect':
      f.protocolLevel = p.protocolVersion ?? 4;
      f.clientId = p.clientId;
      f.cleanStart = p.clean !== false;
      f.keepaliveS = p.keepalive;
      if (p.username !== undefined) f.username = p.username;
      // Whether a password came, never its value (a field named password would be masked anyway).
      f.withPw = p.password !== undefined;
      if (p.will) f.will = { topic: p.will.topic, qos: p.will.qos, retain: !!p.will.retain, payloadBytes: payloadBytes(p.will.payload) };
      break;
    case 'connack':
      f.sessionPresent = p.sessionPresent;
      if (p.reasonCode !== undefined) f.reasonCode = p.reasonCode;
      if (p.returnCode !== undefined) f.returnCode = p.returnCode;
      break;
    case 'publish':
      f.topic = p.topic;
      f.qos = p.qos;
      f.dup = !!p.dup;
      f.retain = !!p.retain;
      f.payloadBytes = payloadBytes(p.payload);
      break;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'disconnect':
    case 'auth':
      if (p.reasonCode !== undefined) f.reasonCode = p.reasonCode;
      break;
    case 'subscribe':
      f.subscriptions = p.subscriptions.map((s) => ({ topic: s.topic, qos: s.qos, ...(s.nl ? { nl: true } : {}), ...(s.rap ? { rap: true } : {}), ...(s.rh ? { rh: s.rh } : {}) }));
      break;
    case 'suback':
      f.granted = p.granted;
      break;
    case 'unsubscribe':
      f.topics = p.unsubscriptions;
      break;
    case 'unsuback':
      if (any.granted !== undefined) f.reasonCodes = any.granted;
      break;
  }
  const props = any.properties;
  if (typeof props === 'object' && props !== null && Object.keys(props).length > 0) f.properties = Object.keys(props);
  return f;
}

function payloadBytes(p: unknown): number {
  if (Buffer.isBuffer(p)) return p.length;
  if (typeof p === 'string') return Buffer.byteLength(p);
  return 0;
}
