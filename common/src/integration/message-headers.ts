import type { BusHeaders } from '../bus/bus.js';
import type { Message, MessageProps, QoS, UserProperties } from '../envelope/message.js';

/**
 * The NATS headers of an exported device message and of a backend publish request
 * (docs/integration.md, "Message headers"): one contract both ways, so a backend can forward
 * what it consumed. Text fields that may hold any UTF-8 (topic, client id, mountpoint, content
 * type, response topic) are percent-encoded (encodeURIComponent), because NATS header values
 * cannot carry CR/LF and MQTT strings can; user properties are one header in
 * application/x-www-form-urlencoded form (`a=1&b=2`, order and repeats kept), so no JSON per
 * message. Pure; routers and consumers.
 */

export const H = {
  topic: 'Mqtt-Topic',
  qos: 'Mqtt-Qos',
  retain: 'Mqtt-Retain',
  clientId: 'Mqtt-Client-Id',
  mountpoint: 'Mqtt-Mountpoint',
  contentType: 'Mqtt-Content-Type',
  responseTopic: 'Mqtt-Response-Topic',
  correlationData: 'Mqtt-Correlation-Data',
  payloadFormat: 'Mqtt-Payload-Format',
  expiresAt: 'Mqtt-Expires-At',
  userProperties: 'Mqtt-User-Properties',
} as const;

function formEncode(up: UserProperties): string {
  let out = '';
  for (const k in up) {
    const v = up[k]!;
    for (const one of Array.isArray(v) ? v : [v]) out += `${out === '' ? '' : '&'}${encodeURIComponent(k)}=${encodeURIComponent(one)}`;
  }
  return out;
}

function formDecode(s: string): UserProperties {
  const up: UserProperties = {};
  for (const raw of s.split('&')) {
    if (raw === '') continue;
    const pair = raw.replace(/\+/g, ' '); // form encoding: '+' is a space (URLSearchParams writes it)
    const eq = pair.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
    const v = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    const prev = up[k];
    up[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return up;
}

/** Headers of an exported message; clientId is '' for messages the broker made. */
export function exportHeaders(mountpoint: string, clientId: string, m: Message): BusHeaders {
  const h: BusHeaders = {
    [H.topic]: encodeURIComponent(m.topic),
    [H.qos]: String(m.qos),
    [H.retain]: m.retain ? 'true' : 'false',
    [H.clientId]: encodeURIComponent(clientId),
    [H.mountpoint]: encodeURIComponent(mountpoint),
  };
  const p = m.props;
  if (p) {
    if (p.contentType !== undefined) h[H.contentType] = encodeURIComponent(p.contentType);
    if (p.responseTopic !== undefined) h[H.responseTopic] = encodeURIComponent(p.responseTopic);
    if (p.correlationData !== undefined) h[H.correlationData] = p.correlationData.toString('base64');
    if (p.payloadFormatIndicator) h[H.payloadFormat] = '1';
    if (p.expiresAt !== undefined) h[H.expiresAt] = String(p.expiresAt);
    if (p.userProperties !== undefined) h[H.userProperties] = formEncode(p.userProperties);
  }
  return h;
}

/** A message as read back from headers and body (consumers; the backend publish API). */
export interface HeaderMessage {
  mountpoint: string;
  clientId: string;
  message: Message;
}

/**
 * Reads the headers of a backend publish (or an exported message). Throws Error with a
 * message fit for the requester on a missing topic or a bad QoS; the caller validates the topic.
 */
export function messageFromHeaders(h: BusHeaders | undefined, payload: Uint8Array): HeaderMessage {
  // Names as written here (canonical MIME form, what Go's client sends too); any other case is accepted.
  const get = (k: string): string | undefined => {
    if (!h) return undefined;
    const v = h[k];
    if (v !== undefined) return v;
    const lower = k.toLowerCase();
    for (const name in h) if (name.toLowerCase() === lower) return h[name];
    return undefined;
  };
  const text = (k: string): string | undefined => {
    const v = get(k);
    if (v === undefined) return undefined;
    try {
      return decodeURIComponent(v);
    } catch {
      throw new Error(`header ${k} is not percent-encoded UTF-8`);
    }
  };
  const topic = text(H.topic);
  if (topic === undefined) throw new Error(`header ${H.topic} is missing`);
  const qosText = get(H.qos) ?? '0';
  if (!/^[012]$/.test(qosText)) throw new Error(`header ${H.qos} must be 0, 1 or 2`);
  const retainText = get(H.retain) ?? 'false';
  if (retainText !== 'true' && retainText !== 'false') throw new Error(`header ${H.retain} must be true or false`);
  const props: MessageProps = {};
  const ct = text(H.contentType);
  if (ct !== undefined) props.contentType = ct;
  const rt = text(H.responseTopic);
  if (rt !== undefined) props.responseTopic = rt;
  const cd = get(H.correlationData);
  if (cd !== undefined) props.correlationData = Buffer.from(cd, 'base64');
  if (get(H.payloadFormat) === '1') props.payloadFormatIndicator = true;
  const exp = get(H.expiresAt);
  if (exp !== undefined) {
    if (!/^\d+$/.test(exp)) throw new Error(`header ${H.expiresAt} must be ms since 1970`);
    props.expiresAt = Number(exp);
  }
  const up = get(H.userProperties);
  if (up !== undefined) {
    try {
      props.userProperties = formDecode(up);
    } catch {
      throw new Error(`header ${H.userProperties} is not form-encoded UTF-8`);
    }
  }
  const message: Message = { topic, payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), qos: Number(qosText) as QoS, retain: retainText === 'true', origin: '' };
  if (Object.keys(props).length > 0) message.props = props;
  return { mountpoint: text(H.mountpoint) ?? '', clientId: text(H.clientId) ?? '', message };
}
