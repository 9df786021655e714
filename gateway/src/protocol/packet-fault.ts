import { RC } from './reason-codes.js';

/**
 * Why an inbound packet is refused at the gateway boundary: the MQTT 5 reason code the
 * connection is closed with (0x81 Malformed Packet: the bytes cannot be parsed as the spec lays
 * the packet out; 0x82 Protocol Error: they parse, but carry a value the spec forbids) and a
 * short, bounded label for the gateway events metric (`what`). 3.1/3.1.1 connections are just
 * closed [MQTT-4.8.0-1 in 3.1.1: close on a protocol violation]. Pure; gateway only.
 */
export interface PacketFault {
  rc: typeof RC.MALFORMED | typeof RC.PROTOCOL_ERROR;
  what: string;
}

export const malformed = (what: string): PacketFault => ({ rc: RC.MALFORMED, what });
export const protocolError = (what: string): PacketFault => ({ rc: RC.PROTOCOL_ERROR, what });

/**
 * A Packet Identifier where the packet must carry one: a missing or short one (mqtt-packet
 * reports -1 or leaves it undefined) is malformed; 0 parses but is forbidden [MQTT-2.2.1-3]
 * (3.1.1: [MQTT-2.3.1-1]), a Protocol Error.
 */
export function packetIdFault(id: number | undefined): PacketFault | undefined {
  if (id === undefined || !Number.isInteger(id) || id < 0 || id > 0xffff) return malformed('packet_id_missing');
  if (id === 0) return protocolError('packet_id_zero');
  return undefined;
}

/**
 * A UTF-8 Encoded String field: it must be well-formed UTF-8 [MQTT-1.5.4-1] without U+0000
 * [MQTT-1.5.4-2]. mqtt-packet decodes ill-formed bytes to U+FFFD, so U+FFFD stands for them
 * (the same choice as common/src/topic.ts). Both are malformed packets.
 */
export function stringFault(s: unknown): PacketFault | undefined {
  if (typeof s !== 'string') return malformed('string_invalid');
  if (s.includes('\u0000') || s.includes('\ufffd')) return malformed('utf8_invalid');
  return undefined;
}
