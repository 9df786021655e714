import type { IDisconnectPacket } from 'mqtt-packet';
import { LostReason, SessIn } from '../../../common/src/index.js';
import type { ConnState } from './conn-state.js';
import type { GatewayPorts } from './ports.js';
import { protocolError, type PacketFault } from './packet-fault.js';
import { ALLOWED_PROPS, propertiesFault } from './property-rules.js';

/** DISCONNECT reason codes a client may send (MQTT 5.0 3.14.2.1, table 3-10, "Sent by Client"). */
const CLIENT_DISCONNECT_CODES: ReadonlySet<number> = new Set([0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99]);

/**
 * The fields of an MQTT 5 DISCONNECT before use: a reason code a client may send (a server-only
 * code parses, so it is a Protocol Error; an unknown one is a parse error in mqtt-packet, 0x81),
 * properties of the allowed kinds and types. 3.1.1 has no fields (extra bytes are refused as
 * malformed by the connection's length check). Pure; gateway only.
 */
export function disconnectFault(p: IDisconnectPacket, v5: boolean): PacketFault | undefined {
  if (!v5) return undefined;
  if (!CLIENT_DISCONNECT_CODES.has(p.reasonCode ?? 0)) return protocolError('disconnect_reason_invalid');
  return propertiesFault(p.properties, ALLOWED_PROPS.disconnect);
}

/**
 * DISCONNECT from the client. The session decides about the Will (0x00 discards, 5.0 0x04
 * keeps it). Raising the Session Expiry Interval from 0 is a protocol error [MQTT-3.14.2-2],
 * which closes the connection as lost (Will published). Gateway only.
 */
export function onDisconnect(c: ConnState, p: IDisconnectPacket, ports: GatewayPorts): void {
  const fault = disconnectFault(p, c.proto === 5);
  if (fault) {
    ports.refuse(c, fault);
    return;
  }
  const rc = c.proto === 5 ? (p.reasonCode ?? 0) : 0;
  let expiry = c.proto === 5 ? p.properties?.sessionExpiryInterval : undefined;
  if (expiry !== undefined && c.sessionExpiryS === 0 && expiry > 0) {
    ports.refuse(c, protocolError('session_expiry_raised'));
    return;
  }
  if (expiry !== undefined) expiry = Math.min(expiry, ports.limits.maxSessionExpiryS);
  c.cleanlyDisconnected = true;
  ports.toSession(c, { kind: SessIn.Disconnect, key: c.key, epoch: c.epoch, rc, sessionExpiryS: expiry });
  ports.close(c, undefined, LostReason.SocketClosed); // [MQTT-3.14.4-1] the server closes after DISCONNECT
}
