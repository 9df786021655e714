import type { IUnsubscribePacket } from 'mqtt-packet';
import { SessIn } from '../../../common/src/index.js';
import type { ConnState } from './conn-state.js';
import type { GatewayPorts } from './ports.js';
import { malformed, packetIdFault, protocolError, type PacketFault } from './packet-fault.js';
import { ALLOWED_PROPS, propertiesFault } from './property-rules.js';

/**
 * The fields of an UNSUBSCRIBE before use: a Packet Identifier 1-65535 [MQTT-2.2.1-3], at least
 * one filter [MQTT-3.10.3-2] (5.0: a Protocol Error), MQTT 5 User Properties only. Pure; gateway only.
 */
export function unsubscribeFault(p: IUnsubscribePacket, v5: boolean): PacketFault | undefined {
  const f = packetIdFault(p.messageId);
  if (f) return f;
  if (!Array.isArray(p.unsubscriptions) || p.unsubscriptions.length === 0) return protocolError('unsubscribe_empty');
  for (const t of p.unsubscriptions) if (typeof t !== 'string') return malformed('unsubscribe_invalid');
  return v5 ? propertiesFault(p.properties, ALLOWED_PROPS.unsubscribe) : undefined;
}

/** UNSUBSCRIBE goes to the session, which answers UNSUBACK [MQTT-3.10.4-4]. Gateway only. */
export function onUnsubscribe(c: ConnState, p: IUnsubscribePacket, ports: GatewayPorts): void {
  const fault = unsubscribeFault(p, c.proto === 5);
  if (fault) {
    ports.refuse(c, fault);
    return;
  }
  ports.toSession(c, { kind: SessIn.Unsubscribe, key: c.key, epoch: c.epoch, packetId: p.messageId!, filters: p.unsubscriptions });
}
