import type { IUnsubscribePacket } from 'mqtt-packet';
import { LostReason, SessIn } from '../../../common/src/envelope/session-in.js';
import { RC } from './reason-codes.js';
import type { ConnState } from './conn-state.js';
import type { GatewayPorts } from './ports.js';

/** UNSUBSCRIBE goes to the session, which answers UNSUBACK [MQTT-3.10.4-4]. Gateway only. */
export function onUnsubscribe(c: ConnState, p: IUnsubscribePacket, ports: GatewayPorts): void {
  if (p.unsubscriptions.length === 0) {
    ports.close(c, RC.PROTOCOL_ERROR, LostReason.ProtocolError); // [MQTT-3.10.3-2] at least one filter
    return;
  }
  ports.toSession(c, { kind: SessIn.Unsubscribe, key: c.key, epoch: c.epoch, packetId: p.messageId ?? 0, filters: p.unsubscriptions });
}
