import type { IDisconnectPacket } from 'mqtt-packet';
import { LostReason, SessIn } from '../../../common/src/envelope/session-in.js';
import type { ConnState } from './conn-state.js';
import type { GatewayPorts } from './ports.js';
import { RC } from './reason-codes.js';

/**
 * DISCONNECT from the client. The session decides about the Will (0x00 discards, 5.0 0x04
 * keeps it). Raising the Session Expiry Interval from 0 is a protocol error [MQTT-3.14.2-2],
 * which closes the connection as lost (Will published). Gateway only.
 */
export function onDisconnect(c: ConnState, p: IDisconnectPacket, ports: GatewayPorts): void {
  const rc = c.proto === 5 ? p.reasonCode ?? 0 : 0;
  let expiry = c.proto === 5 ? p.properties?.sessionExpiryInterval : undefined;
  if (expiry !== undefined && c.sessionExpiryS === 0 && expiry > 0) {
    ports.close(c, RC.PROTOCOL_ERROR, LostReason.ProtocolError);
    return;
  }
  if (expiry !== undefined) expiry = Math.min(expiry, ports.limits.maxSessionExpiryS);
  c.cleanlyDisconnected = true;
  ports.toSession(c, { kind: SessIn.Disconnect, key: c.key, epoch: c.epoch, rc, sessionExpiryS: expiry });
  ports.close(c, undefined, LostReason.SocketClosed); // [MQTT-3.14.4-1] the server closes after DISCONNECT
}
