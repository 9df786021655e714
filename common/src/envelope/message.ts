import { EnvelopeError, knownBits, type Reader, type Writer } from './codec.js';

export type QoS = 0 | 1 | 2;
export type UserProperties = Record<string, string | string[]>;

/** MQTT 5 application properties passed through unchanged (plus the expiry deadline). */
export interface MessageProps {
  payloadFormatIndicator?: boolean;
  /** Absolute deadline in ms since the epoch, from Message Expiry Interval at arrival. */
  expiresAt?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
}

/** One application message as it travels between tiers. */
export interface Message {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** Session key of the publisher, for No Local [MQTT-3.8.3-3]; '' for broker-made messages. */
  origin: string;
  props?: MessageProps;
}

const F_RETAIN = 4;
const F_PROPS = 8;

const P_PFI = 1;
const P_EXP = 2;
const P_CT = 4;
const P_RT = 8;
const P_CD = 16;
const P_UP = 32;

export function writeMessage(w: Writer, m: Message): void {
  const p = m.props;
  w.u8(m.qos | (m.retain ? F_RETAIN : 0) | (p ? F_PROPS : 0));
  w.str(m.topic);
  w.str(m.origin);
  if (p) writeProps(w, p);
  w.bytes(m.payload);
}

/** Smallest encoded message: flags, two empty strings, an empty payload. */
export const MIN_MESSAGE_BYTES = 1 + 2 + 2 + 4;

/** Reads a QoS from the low two bits of a flags byte; 3 is not a QoS [MQTT-3.3.1-4]. */
export function qosBits(flags: number): QoS {
  const q = flags & 3;
  if (q === 3) throw new EnvelopeError('invalid QoS 3');
  return q as QoS;
}

export function readMessage(r: Reader): Message {
  const f = knownBits(r.u8(), 3 | F_RETAIN | F_PROPS, 'message flag');
  const qos = qosBits(f);
  const topic = r.str();
  const origin = r.str();
  const props = f & F_PROPS ? readProps(r) : undefined;
  const payload = r.bytes();
  const m: Message = { topic, payload, qos, retain: (f & F_RETAIN) !== 0, origin };
  if (props) m.props = props;
  return m;
}

function writeProps(w: Writer, p: MessageProps): void {
  let mask = 0;
  if (p.payloadFormatIndicator !== undefined) mask |= P_PFI;
  if (p.expiresAt !== undefined) mask |= P_EXP;
  if (p.contentType !== undefined) mask |= P_CT;
  if (p.responseTopic !== undefined) mask |= P_RT;
  if (p.correlationData !== undefined) mask |= P_CD;
  if (p.userProperties !== undefined) mask |= P_UP;
  w.u8(mask);
  if (mask & P_PFI) w.bool(p.payloadFormatIndicator!);
  if (mask & P_EXP) w.f64(p.expiresAt!);
  if (mask & P_CT) w.str(p.contentType!);
  if (mask & P_RT) w.str(p.responseTopic!);
  if (mask & P_CD) w.bytes(p.correlationData!);
  if (mask & P_UP) {
    const pairs: Array<[string, string]> = [];
    for (const [k, v] of Object.entries(p.userProperties!)) {
      if (Array.isArray(v)) for (const x of v) pairs.push([k, x]);
      else pairs.push([k, v]);
    }
    w.u16(pairs.length);
    for (const [k, v] of pairs) w.str(k).str(v);
  }
}

function readProps(r: Reader): MessageProps {
  const mask = knownBits(r.u8(), P_PFI | P_EXP | P_CT | P_RT | P_CD | P_UP, 'message property');
  const p: MessageProps = {};
  if (mask & P_PFI) p.payloadFormatIndicator = r.bool();
  if (mask & P_EXP) p.expiresAt = r.finite();
  if (mask & P_CT) p.contentType = r.str();
  if (mask & P_RT) p.responseTopic = r.str();
  if (mask & P_CD) p.correlationData = Buffer.from(r.bytes());
  if (mask & P_UP) {
    const n = r.count16(4);
    const up: UserProperties = {};
    for (let i = 0; i < n; i++) {
      const k = r.str();
      const v = r.str();
      // Own properties only: a key named "__proto__" or "constructor" is data, and must not
      // read (or, through the __proto__ setter, replace) the object's prototype.
      const prev = Object.hasOwn(up, k) ? up[k] : undefined;
      if (prev === undefined) setOwn(up, k, v);
      else if (Array.isArray(prev)) prev.push(v);
      else setOwn(up, k, [prev, v]);
    }
    p.userProperties = up;
  }
  return p;
}

function setOwn(o: UserProperties, k: string, v: string | string[]): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else o[k] = v;
}

/** Bytes a message's payload and topic account for in queue limits. */
export function messageBytes(m: Message): number {
  return m.payload.length + m.topic.length;
}
