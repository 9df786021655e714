import mqttPacket, { type Packet } from 'mqtt-packet';
import { mqttString as str, rawPacket as frame, varInt } from './raw-mqtt.js';

/**
 * A seeded MQTT packet fuzzer: valid packets of every type for MQTT 3.1, 3.1.1 and 5.0 (built with
 * mqtt-packet's `generate` and by hand, the hand-made ones with explicit property blocks), then
 * mutated: bit flips, byte replacement, truncation, appended garbage, a lying Remaining Length, a
 * lying property length, injected / duplicated / unknown properties, huge counts; and a plan that
 * splits the bytes across socket writes. Everything is a pure function of (seed, case index), so
 * one case can be replayed alone. No sockets here: the test sends the cases.
 */

/** mulberry32: a small, fast deterministic PRNG (32-bit state). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** 0 <= r < n */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
  chance(p: number): boolean {
    return this.u32() < p * 0x100000000;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

/** The seed of case `index` of a run seeded with `seed` (so a case replays without the ones before it). */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export type Version = 3 | 4 | 5;

export interface FuzzCase {
  index: number;
  version: Version;
  /** The CONNECT bytes (mutated in some cases). */
  connect: Buffer;
  connectMutated: boolean;
  /** Wait for the CONNACK before sending `packets` (else they follow the CONNECT at once). */
  waitConnack: boolean;
  /** The packets after CONNECT, already mutated; what each is, for the failure report. */
  packets: Buffer[];
  labels: string[];
  /** Sizes of the socket writes the whole stream (CONNECT included) is cut into; they sum to its length. */
  writes: number[];
  /** End with a FIN (true) or a reset (false) once done. */
  graceful: boolean;
}

// ---- encoding helpers ----

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** Where the body of the packet at the start of `b` begins, or -1 when the header is cut short. */
function bodyStart(b: Buffer): number {
  for (let i = 1; i < Math.min(b.length, 5); i++) if ((b[i]! & 0x80) === 0) return i + 1;
  return -1;
}

// ---- MQTT 5 properties, by hand ----

type PropEntry = Buffer;

const PROP = {
  payloadFormat: 0x01,
  messageExpiry: 0x02,
  contentType: 0x03,
  responseTopic: 0x08,
  correlationData: 0x09,
  subscriptionId: 0x0b,
  sessionExpiry: 0x11,
  authMethod: 0x15,
  authData: 0x16,
  requestProblem: 0x17,
  willDelay: 0x18,
  requestResponse: 0x19,
  reasonString: 0x1f,
  receiveMaximum: 0x21,
  topicAliasMaximum: 0x22,
  topicAlias: 0x23,
  userProperty: 0x26,
  maximumPacketSize: 0x27,
} as const;

/** A valid-looking value for property `id` (or random bytes for an unknown id). */
function propEntry(rng: Rng, id: number): PropEntry {
  const head = Buffer.from([id]);
  switch (id) {
    case 0x01:
    case 0x17:
    case 0x19:
    case 0x24:
    case 0x25:
    case 0x28:
    case 0x29:
    case 0x2a:
      return Buffer.concat([head, Buffer.from([rng.pick([0, 1, 1, 2, 0xff])])]);
    case 0x02:
    case 0x11:
    case 0x18:
    case 0x27:
      return Buffer.concat([head, u32(rng.pick([0, 1, 60, 0xffffffff, rng.u32()]))]);
    case 0x13:
    case 0x21:
    case 0x22:
    case 0x23:
      return Buffer.concat([head, u16(rng.pick([0, 1, 2, 64, 65, 0xffff, rng.int(0x10000)]))]);
    case 0x0b:
      return Buffer.concat([head, varInt(rng.pick([0, 1, 127, 128, 268435455, rng.int(1 << 20)]))]);
    case 0x03:
    case 0x08:
    case 0x12:
    case 0x15:
    case 0x1a:
    case 0x1c:
    case 0x1f:
      return Buffer.concat([head, str(rng.pick(['', 'a', 'fz/resp', 'x/+', '\u0000', Buffer.from([0xff, 0xfe]), 'é'.repeat(rng.int(40))]))]);
    case 0x09:
    case 0x16:
      return Buffer.concat([head, str(rng.bytes(rng.int(24)))]);
    case 0x26:
      return Buffer.concat([head, str(rng.pick(['k', '', 'key\u0000', 'ü'])), str(rng.pick(['v', '', Buffer.from([0xc3, 0x28])]))]);
    default:
      return Buffer.concat([head, rng.bytes(rng.int(6))]);
  }
}

/** The properties a client puts in each packet type, by id. */
const PROPS_OF = {
  connect: [PROP.sessionExpiry, PROP.receiveMaximum, PROP.maximumPacketSize, PROP.topicAliasMaximum, PROP.requestResponse, PROP.requestProblem, PROP.userProperty, PROP.authMethod, PROP.authData],
  will: [PROP.willDelay, PROP.payloadFormat, PROP.messageExpiry, PROP.contentType, PROP.responseTopic, PROP.correlationData, PROP.userProperty],
  publish: [PROP.payloadFormat, PROP.messageExpiry, PROP.topicAlias, PROP.responseTopic, PROP.correlationData, PROP.userProperty, PROP.contentType, PROP.subscriptionId],
  ack: [PROP.reasonString, PROP.userProperty],
  subscribe: [PROP.subscriptionId, PROP.userProperty],
  disconnect: [PROP.sessionExpiry, PROP.reasonString, PROP.userProperty],
  auth: [PROP.authMethod, PROP.authData, PROP.reasonString, PROP.userProperty],
} as const;

/**
 * A property block: mostly properties of the packet's own kinds; sometimes one duplicated, an
 * unknown or foreign id injected, thousands of user properties, or a length that lies.
 */
function propBlock(rng: Rng, kinds: readonly number[]): Buffer {
  const entries: Buffer[] = [];
  const n = rng.int(4);
  for (let i = 0; i < n; i++) entries.push(propEntry(rng, rng.pick(kinds)));
  if (entries.length > 0 && rng.chance(0.15)) entries.push(entries[rng.int(entries.length)]!); // duplicate
  if (rng.chance(0.1)) entries.splice(rng.int(entries.length + 1), 0, propEntry(rng, rng.int(256))); // any id
  if (rng.chance(0.02)) for (let i = 0; i < 2000; i++) entries.push(Buffer.concat([Buffer.from([PROP.userProperty]), str('k'), str('v')]));
  const body = Buffer.concat(entries);
  let len = body.length;
  if (rng.chance(0.1)) len = Math.max(0, len + rng.pick([-3, -1, 1, 2, 200, 268435455 - len]));
  return Buffer.concat([varInt(len), body]);
}

// ---- valid (or nearly valid) packets ----

const TOPICS = ['fz/a', 'fz/b/c', 'fz/ü/d', 'fz/x/y/z', '$SYS/fz', 'fz/' + 'l/'.repeat(20) + 'x'];
const FILTERS = ['fz/#', 'fz/+/c', '#', '+/+', '$share/g1/fz/a', '$share/g2/#', 'fz/a', '$share//x', 'a/#/b', 'fz/+x'];

function genPacket(p: Record<string, unknown>, v: Version): Buffer {
  return mqttPacket.generate(p as unknown as Packet, { protocolVersion: v });
}

function userProps(rng: Rng): Record<string, string | string[]> {
  return rng.chance(0.5) ? { k: 'v' } : { a: ['1', '2'], ü: 'x' };
}

function randomMessageId(rng: Rng): number {
  return rng.chance(0.9) ? 1 + rng.int(65535) : rng.pick([1, 65535]);
}

export function validConnect(rng: Rng, v: Version, clientId: string): Buffer {
  if (v === 5 && rng.chance(0.3)) return handConnect5(rng, clientId);
  const p: Record<string, unknown> = {
    cmd: 'connect',
    protocolId: v === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: v,
    clientId,
    clean: true,
    keepalive: rng.pick([0, 10, 60, 65535]),
  };
  if (rng.chance(0.3)) {
    p.will = { topic: rng.pick(TOPICS), payload: rng.bytes(rng.int(16)), qos: rng.int(3), retain: rng.chance(0.2) };
    if (v === 5 && rng.chance(0.5)) (p.will as Record<string, unknown>).properties = { willDelayInterval: rng.int(3), contentType: 'text/plain', userProperties: userProps(rng) };
  }
  if (rng.chance(0.3)) {
    p.username = rng.pick(['u', 'user', '']);
    if (rng.chance(0.7)) p.password = Buffer.from('secret');
  }
  if (v === 5 && rng.chance(0.5)) {
    p.properties = {
      receiveMaximum: 1 + rng.int(100),
      topicAliasMaximum: rng.int(10),
      maximumPacketSize: 1024 + rng.int(1 << 20),
      requestProblemInformation: rng.chance(0.5),
      userProperties: userProps(rng),
    };
  }
  return genPacket(p, v);
}

/** A 5.0 CONNECT built by hand, with hand-made (possibly lying) property blocks. */
function handConnect5(rng: Rng, clientId: string): Buffer {
  const will = rng.chance(0.3);
  const flags = 0x02 | (will ? 0x04 | (rng.int(3) << 3) : 0);
  const parts = [str('MQTT'), Buffer.from([5, flags]), u16(rng.pick([0, 30])), propBlock(rng, PROPS_OF.connect), str(clientId)];
  if (will) parts.push(propBlock(rng, PROPS_OF.will), str(rng.pick(TOPICS)), str(rng.bytes(rng.int(8))));
  return frame(0x10, Buffer.concat(parts));
}

function publish(rng: Rng, v: Version): Buffer {
  const qos = rng.int(3);
  if (v === 5 && rng.chance(0.4)) {
    const first = 0x30 | (qos << 1) | (rng.chance(0.2) ? 1 : 0) | (qos > 0 && rng.chance(0.1) ? 8 : 0);
    const topic = rng.chance(0.2) ? '' : rng.pick(TOPICS);
    const parts = [str(topic)];
    if (qos > 0) parts.push(u16(randomMessageId(rng)));
    parts.push(propBlock(rng, PROPS_OF.publish), rng.bytes(rng.int(32)));
    return frame(first, Buffer.concat(parts));
  }
  const p: Record<string, unknown> = {
    cmd: 'publish',
    topic: rng.pick(TOPICS),
    payload: rng.chance(0.05) ? rng.bytes(4096) : rng.bytes(rng.int(64)),
    qos,
    retain: rng.chance(0.1),
    dup: qos > 0 && rng.chance(0.1),
  };
  if (qos > 0) p.messageId = randomMessageId(rng);
  if (v === 5 && rng.chance(0.6)) {
    const props: Record<string, unknown> = {};
    if (rng.chance(0.3)) props.payloadFormatIndicator = rng.chance(0.5);
    if (rng.chance(0.3)) props.messageExpiryInterval = rng.int(100);
    if (rng.chance(0.3)) props.contentType = 'application/json';
    if (rng.chance(0.3)) props.responseTopic = 'fz/reply';
    if (rng.chance(0.3)) props.correlationData = rng.bytes(8);
    if (rng.chance(0.3)) props.userProperties = userProps(rng);
    if (rng.chance(0.3)) props.topicAlias = rng.pick([1, 2, 64, 65]);
    p.properties = props;
  }
  return genPacket(p, v);
}

function subscribe(rng: Rng, v: Version): Buffer {
  const n = rng.chance(0.03) ? 500 : 1 + rng.int(3);
  if (v === 5 && rng.chance(0.4)) {
    const parts = [u16(randomMessageId(rng)), propBlock(rng, PROPS_OF.subscribe)];
    for (let i = 0; i < n; i++) parts.push(str(rng.pick(FILTERS)), Buffer.from([rng.int(0x30) | (rng.chance(0.05) ? 0xc0 : 0)]));
    return frame(0x82, Buffer.concat(parts));
  }
  const subscriptions = Array.from({ length: n }, () => {
    const s: Record<string, unknown> = { topic: rng.pick(FILTERS), qos: rng.int(3) };
    if (v === 5) Object.assign(s, { nl: rng.chance(0.2), rap: rng.chance(0.3), rh: rng.int(3) });
    return s;
  });
  const p: Record<string, unknown> = { cmd: 'subscribe', messageId: randomMessageId(rng), subscriptions };
  if (v === 5 && rng.chance(0.4)) p.properties = { subscriptionIdentifier: 1 + rng.int(1000), userProperties: userProps(rng) };
  return genPacket(p, v);
}

function unsubscribe(rng: Rng, v: Version): Buffer {
  const n = rng.chance(0.03) ? 500 : 1 + rng.int(3);
  const p: Record<string, unknown> = { cmd: 'unsubscribe', messageId: randomMessageId(rng), unsubscriptions: Array.from({ length: n }, () => rng.pick(FILTERS)) };
  if (v === 5 && rng.chance(0.3)) p.properties = { userProperties: userProps(rng) };
  return genPacket(p, v);
}

const ACKS = [
  { cmd: 'puback', first: 0x40, codes: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99] },
  { cmd: 'pubrec', first: 0x50, codes: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99] },
  { cmd: 'pubrel', first: 0x62, codes: [0x00, 0x92] },
  { cmd: 'pubcomp', first: 0x70, codes: [0x00, 0x92] },
] as const;

function ack(rng: Rng, v: Version): Buffer {
  const a = rng.pick(ACKS);
  if (v === 5 && rng.chance(0.4)) {
    const parts = [u16(randomMessageId(rng)), Buffer.from([rng.chance(0.9) ? rng.pick(a.codes) : rng.int(256)])];
    if (rng.chance(0.6)) parts.push(propBlock(rng, PROPS_OF.ack));
    return frame(a.first, Buffer.concat(parts));
  }
  const p: Record<string, unknown> = { cmd: a.cmd, messageId: randomMessageId(rng) };
  if (v === 5) {
    p.reasonCode = rng.pick(a.codes);
    if (rng.chance(0.3)) p.properties = { reasonString: 'why', userProperties: userProps(rng) };
  }
  return genPacket(p, v);
}

function disconnect(rng: Rng, v: Version): Buffer {
  if (v !== 5) return Buffer.from([0xe0, 0x00]);
  if (rng.chance(0.5)) {
    const parts: Buffer[] = [Buffer.from([rng.pick([0x00, 0x04, 0x80, 0x8b, 0x8e, 0x81])])];
    if (rng.chance(0.6)) parts.push(propBlock(rng, PROPS_OF.disconnect));
    return frame(0xe0, Buffer.concat(parts));
  }
  const p: Record<string, unknown> = { cmd: 'disconnect', reasonCode: rng.pick([0x00, 0x04, 0x80]) };
  if (rng.chance(0.3)) p.properties = { sessionExpiryInterval: rng.pick([0, 1, 60]), reasonString: 'bye' };
  return genPacket(p, 5);
}

function auth(rng: Rng): Buffer {
  const parts: Buffer[] = [Buffer.from([rng.pick([0x00, 0x18, 0x19])])];
  if (rng.chance(0.7)) parts.push(propBlock(rng, PROPS_OF.auth));
  return frame(0xf0, Buffer.concat(parts));
}

/** Packets only a server sends (a client sending them is a protocol error), and the reserved types. */
function serverPacket(rng: Rng, v: Version): Buffer {
  return rng.pick([
    () => genPacket({ cmd: 'connack', sessionPresent: false, ...(v === 5 ? { reasonCode: 0 } : { returnCode: 0 }) }, v),
    () => genPacket({ cmd: 'suback', messageId: randomMessageId(rng), granted: [0, 1, 0x80] }, v),
    () => genPacket({ cmd: 'unsuback', messageId: randomMessageId(rng), ...(v === 5 ? { granted: [0] } : {}) }, v),
    () => Buffer.from([0xd0, 0x00]),
    () => Buffer.from([0x00, 0x00]),
    () => Buffer.from([0xf0, 0x00]),
  ])();
}

const GENERATORS: ReadonlyArray<{ name: string; weight: number; make: (rng: Rng, v: Version) => Buffer }> = [
  { name: 'publish', weight: 30, make: publish },
  { name: 'subscribe', weight: 12, make: subscribe },
  { name: 'unsubscribe', weight: 8, make: unsubscribe },
  { name: 'ack', weight: 25, make: ack },
  { name: 'pingreq', weight: 5, make: () => Buffer.from([0xc0, 0x00]) },
  { name: 'disconnect', weight: 6, make: disconnect },
  { name: 'auth', weight: 4, make: (rng) => auth(rng) },
  { name: 'server-only', weight: 3, make: serverPacket },
  { name: 'connect', weight: 2, make: (rng, v) => validConnect(rng, v, 'fz-second') },
];
const TOTAL_WEIGHT = GENERATORS.reduce((s, g) => s + g.weight, 0);

function pickGenerator(rng: Rng): (typeof GENERATORS)[number] {
  let r = rng.int(TOTAL_WEIGHT);
  for (const g of GENERATORS) {
    if (r < g.weight) return g;
    r -= g.weight;
  }
  return GENERATORS[0]!;
}

// ---- mutations ----

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x3f, 0xc0, 0x23, 0x26, 0x0b];

/** Rebuilds the packet with its first byte and body, and a Remaining Length that matches. */
function withBody(b: Buffer, body: Buffer): Buffer {
  return frame(b[0]!, body);
}

export const MUTATORS: ReadonlyArray<{ name: string; apply: (rng: Rng, b: Buffer) => Buffer }> = [
  {
    name: 'bit-flip',
    apply: (rng, b) => {
      const out = Buffer.from(b);
      for (let i = 1 + rng.int(3); i > 0; i--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
      return out;
    },
  },
  {
    name: 'byte-replace',
    apply: (rng, b) => {
      const out = Buffer.from(b);
      out[rng.int(out.length)] = rng.chance(0.6) ? rng.pick(INTERESTING) : rng.int(256);
      return out;
    },
  },
  {
    name: 'body-bit-flip',
    apply: (rng, b) => {
      const s = bodyStart(b);
      if (s < 0 || s >= b.length) return b;
      const out = Buffer.from(b);
      out[s + rng.int(b.length - s)]! ^= 1 << rng.int(8);
      return out;
    },
  },
  { name: 'truncate', apply: (rng, b) => b.subarray(0, rng.int(b.length)) },
  {
    name: 'truncate-body-fix-length',
    apply: (rng, b) => {
      const s = bodyStart(b);
      return s < 0 ? b : withBody(b, b.subarray(s, s + rng.int(b.length - s + 1)));
    },
  },
  { name: 'append-garbage', apply: (rng, b) => Buffer.concat([b, rng.bytes(1 + rng.int(16))]) },
  {
    name: 'insert-bytes-fix-length',
    apply: (rng, b) => {
      const s = bodyStart(b);
      if (s < 0) return b;
      const body = b.subarray(s);
      const at = rng.int(body.length + 1);
      return withBody(b, Buffer.concat([body.subarray(0, at), rng.bytes(1 + rng.int(4)), body.subarray(at)]));
    },
  },
  {
    name: 'lying-remaining-length',
    apply: (rng, b) => {
      const s = bodyStart(b);
      if (s < 0) return b;
      const body = b.subarray(s);
      const len = rng.pick([0, 1, 2, body.length - 1, body.length + 1, body.length + 100, 127, 128, 16383, 16384]);
      return Buffer.concat([Buffer.from([b[0]!]), varInt(Math.max(0, len)), body]);
    },
  },
  {
    name: 'non-minimal-or-5-byte-length',
    apply: (rng, b) => {
      const s = bodyStart(b);
      if (s < 0) return b;
      const head = rng.chance(0.5) ? Buffer.from([0x80 | ((b.length - s) % 128), 0x80, 0x80, 0x80, 0x01]) : Buffer.from([0x80 | ((b.length - s) & 0x7f), 0x00]);
      return Buffer.concat([Buffer.from([b[0]!]), head, b.subarray(s)]);
    },
  },
  {
    name: 'header-flags',
    apply: (rng, b) => {
      const out = Buffer.from(b);
      out[0] = (out[0]! & 0xf0) | rng.int(16);
      return out;
    },
  },
  {
    name: 'packet-type',
    apply: (rng, b) => {
      const out = Buffer.from(b);
      out[0] = (rng.int(16) << 4) | (out[0]! & 0x0f);
      return out;
    },
  },
  {
    name: 'duplicate-slice',
    apply: (rng, b) => {
      const s = bodyStart(b);
      if (s < 0 || s >= b.length) return b;
      const body = b.subarray(s);
      const from = rng.int(body.length);
      const to = from + 1 + rng.int(Math.min(8, body.length - from));
      return withBody(b, Buffer.concat([body.subarray(0, to), body.subarray(from, to), body.subarray(to)]));
    },
  },
];

export function mutate(rng: Rng, b: Buffer, labels: string[]): Buffer {
  let out = b;
  for (let n = 1 + rng.int(3); n > 0; n--) {
    if (out.length === 0) break;
    const m = rng.pick(MUTATORS);
    labels.push(m.name);
    out = m.apply(rng, out);
  }
  return out;
}

/** Cuts `total` bytes into write sizes: mostly one write, sometimes 2-7 random pieces, sometimes up to 64 tiny ones. */
function writePlan(rng: Rng, total: number): number[] {
  if (total === 0) return [];
  const r = rng.int(10);
  if (r < 6 || total === 1) return [total];
  const pieces = Math.min(total, r === 9 ? 64 : 2 + rng.int(6));
  const cuts = new Set<number>();
  while (cuts.size < pieces - 1) cuts.add(1 + rng.int(total - 1));
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: number[] = [];
  let prev = 0;
  for (const c of [...sorted, total]) {
    out.push(c - prev);
    prev = c;
  }
  return out;
}

/**
 * Case `index` of the run seeded `seed`: a protocol version (5.0 most often), a valid CONNECT
 * (mutated in ~15% of cases), then 1-5 packets, most of them mutated, and how to write them.
 */
export function fuzzCase(seed: number, index: number, clientId: string): FuzzCase {
  const rng = new Rng(caseSeed(seed, index));
  const version = rng.pick([3, 4, 4, 5, 5, 5, 5] as const);
  let connect = validConnect(rng, version, clientId);
  const labels: string[] = [];
  const connectMutated = rng.chance(0.15);
  if (connectMutated) {
    const l: string[] = [];
    connect = mutate(rng, connect, l);
    labels.push(`connect[${l.join('+')}]`);
  }
  const waitConnack = !connectMutated && rng.chance(0.5);
  const packets: Buffer[] = [];
  for (let n = 1 + rng.int(5); n > 0; n--) {
    const g = pickGenerator(rng);
    // Now and then a packet framed for another protocol version than the connection's.
    const v = rng.chance(0.08) ? rng.pick([3, 4, 5] as const) : version;
    let b = g.make(rng, v === 3 || v === 4 ? v : 5);
    const l: string[] = [];
    if (rng.chance(0.8)) b = mutate(rng, b, l);
    packets.push(b);
    labels.push(l.length > 0 ? `${g.name}[${l.join('+')}]` : g.name);
  }
  const total = connect.length + packets.reduce((s, p) => s + p.length, 0);
  const writes = waitConnack ? [...writePlan(rng, connect.length), ...writePlan(rng, total - connect.length)] : writePlan(rng, total);
  return { index, version, connect, connectMutated, waitConnack, packets, labels, writes, graceful: rng.chance(0.7) };
}

/** A one-line description of a case for a failure report (hex of every packet). */
export function describeCase(c: FuzzCase): string {
  return `case ${c.index}: MQTT v${c.version}, ${c.labels.join(', ')}; connect ${c.connect.toString('hex')}; packets ${c.packets.map((p) => p.toString('hex')).join(' ')}`;
}
