import type { Packet } from 'mqtt-packet';
import { LostReason } from '../../../common/src/index.js';
import type { ConnState } from './conn-state.js';
import { onConnect } from './on-connect.js';
import { onDisconnect } from './on-disconnect.js';
import { onPubAck } from './on-puback.js';
import { onPubComp } from './on-pubcomp.js';
import { onPublish } from './on-publish.js';
import { onPubRec } from './on-pubrec.js';
import { onPubRel } from './on-pubrel.js';
import { onSubscribe } from './on-subscribe.js';
import { onUnsubscribe } from './on-unsubscribe.js';
import type { GatewayPorts } from './ports.js';
import { RC } from './reason-codes.js';
import { protocolError } from './packet-fault.js';

/** Packets a client may have in flight between CONNECT and CONNACK (or while a per-message authorization is awaited) before we close it. */
const MAX_EARLY_PACKETS = 256;

/**
 * handleIn for one decoded packet of one connection: the gateway's protocol state machine.
 * Gateway only; no socket access (everything goes through ports).
 */
export function handlePacket(c: ConnState, p: Packet, ports: GatewayPorts): void {
  if (c.phase === 'closed') return;
  if (c.phase === 'new' && p.cmd !== 'connect') {
    // [MQTT-3.1.0-1] the first packet must be CONNECT.
    ports.count('packet_before_connect');
    ports.close(c, undefined, LostReason.ProtocolError);
    return;
  }
  if (c.phase === 'connecting' && p.cmd !== 'connect') {
    if (c.pendingIn.length >= MAX_EARLY_PACKETS) {
      ports.count('early_packets_exceeded');
      ports.close(c, RC.QUOTA_EXCEEDED, LostReason.ProtocolError);
    } else c.pendingIn.push(p);
    return;
  }
  if (c.holding) {
    // A per-message authorization answer is awaited: later packets wait so that order is kept.
    if (c.pendingIn.length >= MAX_EARLY_PACKETS) {
      ports.count('held_packets_exceeded');
      ports.close(c, RC.QUOTA_EXCEEDED, LostReason.ProtocolError);
    } else c.pendingIn.push(p);
    return;
  }
  switch (p.cmd) {
    case 'connect':
      onConnect(c, p, ports);
      return;
    case 'publish':
      onPublish(c, p, ports);
      return;
    case 'puback':
      onPubAck(c, p, ports);
      return;
    case 'pubrec':
      onPubRec(c, p, ports);
      return;
    case 'pubrel':
      onPubRel(c, p, ports);
      return;
    case 'pubcomp':
      onPubComp(c, p, ports);
      return;
    case 'subscribe':
      onSubscribe(c, p, ports);
      return;
    case 'unsubscribe':
      onUnsubscribe(c, p, ports);
      return;
    case 'pingreq':
      ports.send(c, { cmd: 'pingresp' }); // [MQTT-3.12.4-1]
      return;
    case 'disconnect':
      onDisconnect(c, p, ports);
      return;
    default:
      // CONNACK, SUBACK, PINGRESP... from a client, or AUTH without an Authentication Method
      // in CONNECT (enhanced authentication is not supported) (MQTT 5.0 4.12): a Protocol Error.
      ports.refuse(c, protocolError('unexpected_packet'));
  }
}
