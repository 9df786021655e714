import type { IUnsubscribePacket } from 'mqtt-packet';
import { SessIn } from '../../../common/src/envelope/session-in.js';
import type { ConnState } from './conn-state.js';
import type { GatewayPorts } from './ports.js';

/** UNSUBSCRIBE goes to the session, which answers UNSUBACK [MQTT-3.10.4-4]. Gateway only. */
export function onUnsubscribe(c: ConnState, p: IUnsubscribePacket, ports: GatewayPorts): void {
  ports.toSession(c, { kind: SessIn.Unsubscribe, key: c.key, epoch: c.epoch, packetId: p.messageId ?? 0, filters: p.unsubscriptions });
}
