import mqtt from 'mqtt-packet';
import type { ProtocolVersion } from '../../../common/src/envelope/session-in.js';

/**
 * Control packets the session encodes itself (the gateway just writes the bytes).
 * Reason codes go on the wire only for MQTT 5; 3.1.1 acks carry none.
 */

type AckCmd = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';

export function ackPacket(cmd: AckCmd, packetId: number, rc: number, proto: ProtocolVersion): Buffer {
  if (proto === 5 && rc !== 0) return mqtt.generate({ cmd, messageId: packetId, reasonCode: rc } as mqtt.Packet, { protocolVersion: 5 });
  return mqtt.generate({ cmd, messageId: packetId } as mqtt.Packet, { protocolVersion: proto });
}

/** SUBACK: 3.1.1 knows only 0x00-0x02 and 0x80 [MQTT-3.9.3-2]. */
export function subackPacket(packetId: number, codes: number[], proto: ProtocolVersion): Buffer {
  const granted = proto === 5 ? codes : codes.map((c) => (c >= 0x80 ? 0x80 : c));
  return mqtt.generate({ cmd: 'suback', messageId: packetId, granted } as mqtt.Packet, { protocolVersion: proto });
}

/** UNSUBACK: reason codes exist only in MQTT 5 [MQTT-3.11.3-1]. */
export function unsubackPacket(packetId: number, codes: number[], proto: ProtocolVersion): Buffer {
  if (proto === 5) return mqtt.generate({ cmd: 'unsuback', messageId: packetId, granted: codes } as unknown as mqtt.Packet, { protocolVersion: 5 });
  return mqtt.generate({ cmd: 'unsuback', messageId: packetId } as mqtt.Packet, { protocolVersion: proto });
}
