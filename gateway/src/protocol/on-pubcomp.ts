import type { IPubcompPacket } from 'mqtt-packet';
import { SessIn } from '../../../common/src/index.js';
import { ackFault } from './ack-fault.js';
import type { ConnState } from './conn-state.js';
import type { GatewayPorts } from './ports.js';

/** PUBCOMP ends a QoS 2 delivery: the session frees the packet id. Gateway only. */
export function onPubComp(c: ConnState, p: IPubcompPacket, ports: GatewayPorts): void {
  const fault = ackFault(p, c.proto);
  if (fault) {
    ports.refuse(c, fault);
    return;
  }
  ports.toSession(c, { kind: SessIn.PubComp, key: c.key, epoch: c.epoch, packetId: p.messageId!, rc: p.reasonCode ?? 0 });
}
