import type { IPubrecPacket } from 'mqtt-packet';
import { SessIn } from '../../../common/src/index.js';
import { ackFault } from './ack-fault.js';
import type { ConnState } from './conn-state.js';
import type { GatewayPorts } from './ports.js';

/** PUBREC for a QoS 2 delivery: the session answers PUBREL. Gateway only. */
export function onPubRec(c: ConnState, p: IPubrecPacket, ports: GatewayPorts): void {
  const fault = ackFault(p, c.proto);
  if (fault) {
    ports.refuse(c, fault);
    return;
  }
  ports.toSession(c, { kind: SessIn.PubRec, key: c.key, epoch: c.epoch, packetId: p.messageId!, rc: p.reasonCode ?? 0 });
}
