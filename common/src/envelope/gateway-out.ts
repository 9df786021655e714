import type { BusCodec } from '../bus/bus-value.js';
import { EnvelopeError, knownBits, oneOf, type Writer } from './codec.js';
import { envelopeReader, envelopeWriter } from './envelope-version.js';
import { qosBits, readMessage, writeMessage, type Message, type QoS } from './message.js';

/**
 * Envelopes to one gateway on `gatewayOut(gatewayId)`: a batch of items, each about one
 * connection (connId + epoch; a gateway drops items whose epoch is not the connection's).
 * Senders batch everything for one gateway produced in one event-loop turn.
 */

export const enum GwOut {
  /**
   * Legacy: a control packet already encoded by the sender. Session actors of envelope version
   * 1.0 sent these; nothing sends them now, and gateways still write them (after the Maximum
   * Packet Size check) so a rolling upgrade that meets an old session actor keeps working.
   */
  Packet = 1,
  /** An application message to encode (the gateway applies topic aliases). */
  Publish = 2,
  /** Close the connection, after sending DISCONNECT with rc when rc != 0xff (MQTT 5 only). */
  Close = 3,
  /** CONNACK-time signal that the session is attached: deliveries may follow. */
  Attached = 4,
  /** A control packet for the gateway to encode: PUBACK/PUBREC/PUBREL/PUBCOMP, SUBACK, UNSUBACK. */
  Control = 5,
}

/** The MQTT control packet type of a Control item (its fixed header's packet type). */
export const enum ControlType {
  PubAck = 4,
  PubRec = 5,
  PubRel = 6,
  PubComp = 7,
  SubAck = 9,
  UnsubAck = 11,
}

const CONTROL_TYPES: readonly ControlType[] = [ControlType.PubAck, ControlType.PubRec, ControlType.PubRel, ControlType.PubComp, ControlType.SubAck, ControlType.UnsubAck];

export interface PacketItem {
  kind: GwOut.Packet;
  connId: number;
  epoch: number;
  bytes: Buffer;
}

export interface PublishItem {
  kind: GwOut.Publish;
  connId: number;
  epoch: number;
  packetId: number;
  qos: QoS;
  dup: boolean;
  retain: boolean;
  subIds: number[];
  message: Message;
}

/**
 * A control packet the gateway encodes for the connection's protocol version. `codes`: one
 * reason code for the four acks (0 = success), one per filter for SUBACK and UNSUBACK; the
 * gateway maps them to what the connection's MQTT version can carry.
 */
export interface ControlItem {
  kind: GwOut.Control;
  connId: number;
  epoch: number;
  type: ControlType;
  packetId: number;
  codes: number[];
}

export interface CloseItem {
  kind: GwOut.Close;
  connId: number;
  epoch: number;
  rc: number;
}

export type GatewayOutItem = PacketItem | PublishItem | ControlItem | CloseItem;

export function writeGatewayOutItem(w: Writer, it: GatewayOutItem): void {
  w.u8(it.kind).u32(it.connId).u32(it.epoch);
  switch (it.kind) {
    case GwOut.Packet:
      w.bytes(it.bytes);
      break;
    case GwOut.Publish:
      w.u16(it.packetId)
        .u8(it.qos | (it.dup ? 4 : 0) | (it.retain ? 8 : 0))
        .u8(it.subIds.length);
      for (const id of it.subIds) w.u32(id);
      writeMessage(w, it.message);
      break;
    case GwOut.Control:
      w.u8(it.type).u16(it.packetId).u16(it.codes.length);
      for (const c of it.codes) w.u8(c);
      break;
    case GwOut.Close:
      w.u8(it.rc);
      break;
  }
}

export function encodeGatewayOut(items: readonly GatewayOutItem[]): Buffer {
  const w = envelopeWriter();
  for (const it of items) writeGatewayOutItem(w, it);
  return w.finish();
}

/**
 * The batch as messages of at most `maxBytes` each (the bus's max_payload), items in order; an
 * item larger than that alone is a message of its own (the bus refuses it, logged and counted).
 */
export function encodeGatewayOutChunks(items: readonly GatewayOutItem[], maxBytes: number): Buffer[] {
  const chunks: Buffer[] = [];
  let w = envelopeWriter();
  let n = 0;
  for (const it of items) {
    const before = w.length;
    writeGatewayOutItem(w, it);
    if (w.length > maxBytes && n > 0) {
      w.truncate(before);
      chunks.push(w.finish());
      w = envelopeWriter();
      writeGatewayOutItem(w, it);
      n = 0;
    }
    n++;
  }
  if (n > 0) chunks.push(w.finish());
  return chunks;
}

/**
 * Decodes a batch, calling visit per item (no array built). Throws EnvelopeError at the first
 * item it cannot read; items before it were already visited (each stands alone: it names its
 * connection and epoch).
 */
export function decodeGatewayOut(data: Uint8Array, visit: (it: GatewayOutItem) => void): void {
  const r = envelopeReader(data);
  while (!r.done) {
    const kind = r.u8() as GwOut;
    const connId = r.u32();
    const epoch = r.u32();
    switch (kind) {
      case GwOut.Packet:
        visit({ kind, connId, epoch, bytes: r.bytes() });
        break;
      case GwOut.Publish: {
        const packetId = r.u16();
        const f = knownBits(r.u8(), 0x0f, 'publish item flag');
        const n = r.count8(4);
        const subIds: number[] = [];
        for (let i = 0; i < n; i++) subIds.push(r.u32());
        visit({ kind, connId, epoch, packetId, qos: qosBits(f), dup: (f & 4) !== 0, retain: (f & 8) !== 0, subIds, message: readMessage(r) });
        break;
      }
      case GwOut.Control: {
        const type = oneOf(r.u8(), CONTROL_TYPES, 'control packet type');
        const packetId = r.u16();
        const n = r.count16(1);
        const codes: number[] = [];
        for (let i = 0; i < n; i++) codes.push(r.u8());
        visit({ kind, connId, epoch, type, packetId, codes });
        break;
      }
      case GwOut.Close:
        visit({ kind, connId, epoch, rc: r.u8() });
        break;
      default:
        throw new EnvelopeError(`unknown gateway envelope kind ${kind as number}`);
    }
  }
}

/**
 * A gateway-output batch as a bus value: handed over as the item array in one process
 * (bus-value.ts). Over NATS the sender splits batches below max_payload itself
 * (encodeGatewayOutChunks) and the gateway decodes with decodeGatewayOut, visiting items.
 */
export const gatewayOutCodec: BusCodec<readonly GatewayOutItem[]> = {
  encode: encodeGatewayOut,
  decode: (data) => {
    const items: GatewayOutItem[] = [];
    decodeGatewayOut(data, (it) => items.push(it));
    return items;
  },
};
