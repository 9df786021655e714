import type { GatewayOutItem } from '../../common/src/envelope/gateway-out.js';
import type { Message } from '../../common/src/envelope/message.js';
import type { RoutePublish, SubChangeBatch } from '../../common/src/envelope/router.js';
import type { SessionInEnv } from '../../common/src/envelope/session-in.js';

/**
 * Envelope major version 1, frozen for the compatibility test (envelope-versions-compatible):
 * bytes captured from the v1 encoders, and a hand-written copy of the v1 decoding of a few
 * envelopes as a v1 reader does it (version byte, known fields, trailing bytes ignored). Never
 * regenerate these from the current encoders: they stand for processes of an older release.
 */

const message: Message = { topic: 'a/b', payload: Buffer.from('hi'), qos: 1, retain: false, origin: 'pub-key', props: { contentType: 'text/plain', userProperties: { k: 'v' } } };

/** Bytes a v1 writer sent, with what they mean. */
export const V1_VECTORS = {
  puback: {
    hex: 'c10400056465762d3100000007010200',
    value: { kind: 4, key: 'dev-1', epoch: 7, packetId: 258, rc: 0 } as SessionInEnv,
  },
  deliver: {
    hex: 'c10b000200056465762d310102000000020000000300056465762d320e0100000006000167090003612f6200077075622d6b657924000a746578742f706c61696e000100016b000176000000026869000472312e35',
    value: {
      kind: 11,
      targets: [
        { key: 'dev-1', qos: 1, retainAsPublished: false, subIds: [2, 3] },
        { key: 'dev-2', qos: 2, retainAsPublished: true, subIds: [6], group: 'g' },
      ],
      message,
      id: 'r1.5',
    } as SessionInEnv,
  },
  connect: {
    hex: 'c10100056465762d31000000056465762d31000467772d61000000090500003c0100000e10000a00000000010000000509000a77696c6c2f6465762d3100077075622d6b657924000a746578742f706c61696e000100016b000176000000026869010005616c696365',
    value: {
      kind: 1,
      key: 'dev-1',
      mountpoint: '',
      clientId: 'dev-1',
      gateway: 'gw-a',
      connId: 9,
      proto: 5,
      cleanStart: false,
      keepaliveS: 60,
      sessionExpiryS: 3600,
      receiveMaximum: 10,
      maxPacketBytes: 0,
      will: { delayS: 5, message: { ...message, topic: 'will/dev-1' } },
      username: 'alice',
    } as SessionInEnv,
  },
  route: {
    hex: 'c100026d70090003612f6200077075622d6b657924000a746578742f706c61696e000100016b0001760000000268690000000000027231',
    value: { mountpoint: 'mp', message, id: 'r1' } as RoutePublish,
  },
  heartbeat: {
    hex: 'c1000467772d6101',
    value: { gatewayId: 'gw-a', stopping: true },
  },
  gatewayOut: {
    hex: 'c1020000000300000007000101020000000200000003090003612f6200077075622d6b657924000a746578742f706c61696e000100016b000176000000026869050000000300000007090002000201800300000003000000078e',
    value: [
      { kind: 2, connId: 3, epoch: 7, packetId: 1, qos: 1, dup: false, retain: false, subIds: [2, 3], message },
      { kind: 5, connId: 3, epoch: 7, type: 9, packetId: 2, codes: [1, 0x80] },
      { kind: 3, connId: 3, epoch: 7, rc: 0x8e },
    ] as GatewayOutItem[],
  },
  subChanges: {
    hex: 'c1000000010100056465762d3100000003612f2300000900000003000100000003612f23',
    value: {
      changes: [{ op: 1, key: 'dev-1', mountpoint: '', filter: 'a/#', qos: 1, noLocal: false, retainAsPublished: true, subId: 3 }],
      retainedFor: [{ mountpoint: '', filter: 'a/#' }],
    } as SubChangeBatch,
  },
} as const;

/** A minimal v1 reader: the checks a v1 process makes, then fields in v1 order. */
class V1Reader {
  private pos: number;
  constructor(private readonly b: Buffer) {
    const first = b[0] ?? 0;
    if (first >= 0xc0 && first !== 0xc1) throw new Error(`v1 reader: major ${first & 0x3f}`);
    this.pos = first === 0xc1 ? 1 : 0;
  }
  u8(): number {
    if (this.pos >= this.b.length) throw new Error('v1 reader: truncated');
    return this.b[this.pos++]!;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  u32(): number {
    return ((this.u16() << 16) | this.u16()) >>> 0;
  }
  str(): string {
    const n = this.u16();
    if (this.pos + n > this.b.length) throw new Error('v1 reader: truncated');
    const s = this.b.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  /** A v1 message (flags, topic, origin, properties, payload); only its topic is kept here. */
  skipMessage(): string {
    const flags = this.u8();
    const topic = this.str();
    this.str();
    if (flags & 8) {
      const mask = this.u8();
      if (mask & 1) this.pos += 1;
      if (mask & 2) this.pos += 8;
      if (mask & 4) this.str();
      if (mask & 8) this.str();
      if (mask & 16) this.skip(this.u32());
      if (mask & 32) for (let n = this.u16(); n > 0; n--) this.str(), this.str();
    }
    this.skip(this.u32());
    return topic;
  }
  skip(n: number): void {
    this.pos += n;
  }
  get done(): boolean {
    return this.pos >= this.b.length;
  }
}

/** v1 decoding of a PUBACK/PUBREC/PUBCOMP/PUBREL envelope. */
export function v1DecodeAck(b: Buffer): { kind: number; key: string; epoch: number; packetId: number; rc: number } {
  const r = new V1Reader(b);
  return { kind: r.u8(), key: r.str(), epoch: r.u32(), packetId: r.u16(), rc: r.u8() };
}

/** v1 decoding of a heartbeat. */
export function v1DecodeHeartbeat(b: Buffer): { gatewayId: string; stopping: boolean } {
  const r = new V1Reader(b);
  return { gatewayId: r.str(), stopping: r.u8() !== 0 };
}

/** v1 decoding of a route request: mountpoint, topic, and the trailing group pair and id when present. */
export function v1DecodeRoute(b: Buffer): { mountpoint: string; topic: string; group?: string; id?: string } {
  const r = new V1Reader(b);
  const out: { mountpoint: string; topic: string; group?: string; id?: string } = { mountpoint: r.str(), topic: r.skipMessage() };
  if (!r.done) {
    const group = r.str();
    r.str();
    if (group !== '') out.group = group;
  }
  if (!r.done) out.id = r.str();
  return out;
}
