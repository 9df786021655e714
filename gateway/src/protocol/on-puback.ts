import type { IPubackPacket } from 'mqtt-packet';
import { SessIn } from '../../../common/src/index.js';
import { ackFault } from './ack-fault.js';
import type { ConnState } from './conn-state.js';
import type { GatewayPorts } from './ports.js';

/** PUBACK for a QoS 1 delivery: the session frees the packet id. Gateway only. */
export function onPubAck(c: ConnState, p: IPubackPacket, ports: GatewayPorts): void {
  const fault = ackFault(p, c.proto);
  if (fault) {
    ports.refuse(c, fault);
    return;
  }
  ports.toSession(c, { kind: SessIn.PubAck, key: c.key, epoch: c.epoch, packetId: p.messageId!, rc: p.reasonCode ?? 0 });
}
