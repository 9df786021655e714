import type { IPubrelPacket } from 'mqtt-packet';
import { SessIn } from '../../../common/src/index.js';
import { ackFault } from './ack-fault.js';
import type { ConnState } from './conn-state.js';
import type { GatewayPorts } from './ports.js';

/** PUBREL releases an inbound QoS 2 packet id; the session answers PUBCOMP. Gateway only. */
export function onPubRel(c: ConnState, p: IPubrelPacket, ports: GatewayPorts): void {
  const fault = ackFault(p, c.proto);
  if (fault) {
    ports.refuse(c, fault);
    return;
  }
  const id = p.messageId!;
  c.qos2In.delete(id);
  ports.toSession(c, { kind: SessIn.PubRel, key: c.key, epoch: c.epoch, packetId: id, rc: p.reasonCode ?? 0 });
}
