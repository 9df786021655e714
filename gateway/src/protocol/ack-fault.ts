import type { ProtocolVersion } from '../../../common/src/index.js';
import { packetIdFault, type PacketFault } from './packet-fault.js';
import { ALLOWED_PROPS, propertiesFault } from './property-rules.js';

interface AckFields {
  messageId?: number;
  reasonCode?: number;
  properties?: object;
}

/**
 * The fields of a PUBACK, PUBREC, PUBREL or PUBCOMP: a Packet Identifier 1-65535
 * [MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1]); MQTT 5 Reason String and User Properties only.
 * The reason code itself is checked by mqtt-packet against the packet type's list (an unknown
 * one is a parse error, answered 0x81). Pure; gateway only.
 */
export function ackFault(p: AckFields, proto: ProtocolVersion): PacketFault | undefined {
  return packetIdFault(p.messageId) ?? (proto === 5 ? propertiesFault(p.properties, ALLOWED_PROPS.ack) : undefined);
}
