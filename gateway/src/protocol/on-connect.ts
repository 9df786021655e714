import type { IConnectPacket, Packet } from 'mqtt-packet';
import { checkPublish, connackCodeFor, type Message, LostReason, SessIn, type ConnectEnv, type ProtocolVersion, sessionKey, shardOf, validateTopicName } from '../../../common/src/index.js';
import type { ConnState } from './conn-state.js';
import type { GatewayPorts } from './ports.js';
import { RC, RC3, REASON_TEXT } from './reason-codes.js';
import { messageProps } from './message-props.js';
import { malformed, protocolError, stringFault, type PacketFault } from './packet-fault.js';
import { ALLOWED_PROPS, propertiesFault } from './property-rules.js';

/** Refuses the CONNECT with a CONNACK code, then closes [MQTT-3.2.2-6: session present 0]. */
export function refuseConnect(c: ConnState, ports: GatewayPorts, rc5: number, rc3: number, why: string): void {
  ports.count(`connect_refused_${why}`);
  const text = REASON_TEXT[rc5];
  const p =
    c.proto === 5
      ? ({ cmd: 'connack', sessionPresent: false, reasonCode: rc5, ...(text ? { properties: { reasonString: text } } : {}) } as Packet)
      : ({ cmd: 'connack', sessionPresent: false, returnCode: rc3 } as Packet);
  ports.send(c, p);
  ports.close(c, undefined, LostReason.ProtocolError);
}

function validClientId(id: string): boolean {
  // NUL is illegal in UTF-8 strings [MQTT-1.5.4-2]; U+FFFD marks bytes that were not UTF-8.
  return !id.includes('\u0000') && !id.includes('\ufffd');
}

/**
 * The fields of a CONNECT before use, beyond what mqtt-packet refuses while parsing (protocol
 * name and level, reserved flag [MQTT-3.1.2-3], Will flags without a Will [MQTT-3.1.2-11..15]):
 * the protocol name matching the level ("MQIsdp" for 3.1, "MQTT" otherwise [MQTT-3.1.2-1]),
 * Will QoS 3 (malformed: [MQTT-3.1.2-12] in 5.0, [MQTT-3.1.2-14] in 3.1.1), a password without
 * a user name in 3.1/3.1.1 [MQTT-3.1.2-22], a user name that is valid UTF-8 [MQTT-3.1.3-11],
 * MQTT 5 properties (CONNECT and Will) of the allowed kinds and types, and Authentication Data
 * only with an Authentication Method (3.1.2.11.10, a Protocol Error). The client id is judged
 * by onConnect (CONNACK 0x85). Pure; gateway only.
 */
export function connectFault(p: IConnectPacket): PacketFault | undefined {
  const v = p.protocolVersion ?? 4;
  if ((v === 3) !== (p.protocolId === 'MQIsdp')) return malformed('protocol_name_mismatch');
  if (typeof p.clientId !== 'string') return malformed('client_id_invalid');
  if (p.will) {
    if (!((p.will.qos as number) >= 0 && (p.will.qos as number) <= 2)) return malformed('will_qos_invalid');
    if (typeof p.will.topic !== 'string' || !Buffer.isBuffer(p.will.payload)) return malformed('will_invalid');
  }
  if (p.username !== undefined) {
    const f = stringFault(p.username);
    if (f) return f;
  }
  if (v !== 5) return p.password !== undefined && p.username === undefined ? malformed('password_without_username') : undefined;
  const f = propertiesFault(p.properties, ALLOWED_PROPS.connect) ?? propertiesFault(p.will?.properties, ALLOWED_PROPS.will);
  if (f) return f;
  if (p.properties?.authenticationData !== undefined && p.properties.authenticationMethod === undefined) return protocolError('auth_data_without_method');
  return undefined;
}

/**
 * CONNECT: validate, authenticate, then attach to the session on its shard owner.
 * Runs in the gateway for one connection; the CONNACK is written when the owner answers.
 */
export function onConnect(c: ConnState, p: IConnectPacket, ports: GatewayPorts): void {
  if (c.phase !== 'new') {
    // [MQTT-3.1.0-2] a second CONNECT is a protocol violation: close.
    ports.close(c, RC.PROTOCOL_ERROR, LostReason.ProtocolError);
    return;
  }
  const proto = (p.protocolVersion ?? 4) as ProtocolVersion;
  c.proto = proto;
  const fault = connectFault(p);
  if (fault) {
    ports.refuse(c, fault);
    return;
  }
  c.phase = 'connecting';
  const lim = ports.limits;
  const props = p.properties ?? {};

  if (proto === 5 && (props.receiveMaximum === 0 || props.maximumPacketSize === 0)) {
    // MQTT 5 3.1.2.11.3 / 3.1.2.11.4: a Receive Maximum or Maximum Packet Size of 0 is a Protocol Error.
    refuseConnect(c, ports, RC.PROTOCOL_ERROR, RC3.UNACCEPTABLE_PROTOCOL, 'protocol_error');
    return;
  }
  if (proto === 5 && props.authenticationMethod !== undefined) {
    // Enhanced authentication is not supported [MQTT-4.12.0-1]: 0x8C.
    refuseConnect(c, ports, RC.BAD_AUTH_METHOD, RC3.NOT_AUTHORIZED, 'auth_method');
    return;
  }

  let clientId = p.clientId ?? '';
  let assigned: string | undefined;
  if (clientId === '') {
    if (proto === 5)
      clientId = assigned = ports.newClientId(); // [MQTT-3.1.3-6] assign and report it
    else if (proto === 4 && p.clean !== false)
      clientId = ports.newClientId(); // [MQTT-3.1.3-6]
    else {
      // [MQTT-3.1.3-8] empty id with persistent session (or 3.1): identifier rejected.
      refuseConnect(c, ports, RC.CLIENT_ID_NOT_VALID, RC3.IDENTIFIER_REJECTED, 'client_id');
      return;
    }
  }
  if (Buffer.byteLength(clientId) > lim.maxClientIdLength || !validClientId(clientId)) {
    refuseConnect(c, ports, RC.CLIENT_ID_NOT_VALID, RC3.IDENTIFIER_REJECTED, 'client_id');
    return;
  }

  // The listener's verified client certificate names the user (mqtt.tlsCertIdentityAsUsername),
  // whatever the CONNECT says: authentication, ACLs and logs all see that name.
  if (c.certUsername === '') {
    refuseConnect(c, ports, RC.BAD_USER_OR_PASSWORD, RC3.BAD_USER_OR_PASSWORD, 'cert_identity_missing');
    return;
  }
  const username = c.certUsername ?? p.username;

  let will: Message | undefined;
  let willDelayS = 0;
  if (p.will) {
    const bad = validateTopicName(p.will.topic, lim.maxTopicLevels);
    if (bad) {
      refuseConnect(c, ports, RC.TOPIC_NAME_INVALID, RC3.NOT_AUTHORIZED, 'will_topic');
      return;
    }
    const payload = typeof p.will.payload === 'string' ? Buffer.from(p.will.payload) : (p.will.payload ?? Buffer.alloc(0));
    will = { topic: p.will.topic, payload, qos: (p.will.qos ?? 0) as 0 | 1 | 2, retain: !!p.will.retain, origin: '' };
    const wp = p.will.properties;
    if (wp) {
      const mp = messageProps(wp, ports.now());
      if (mp) will.props = mp;
      willDelayS = wp.willDelayInterval ?? 0;
    }
  }

  c.clientId = clientId;
  c.cleanStart = p.clean !== false;
  c.key = sessionKey(c.mountpoint, clientId);
  if (will) will.origin = c.key;
  c.keepaliveMs = (p.keepalive ?? 0) * 1000;
  let serverKeepAlive: number | undefined;
  if (proto === 5 && (p.keepalive ?? 0) > lim.maxKeepaliveS) {
    serverKeepAlive = lim.maxKeepaliveS; // [MQTT-3.2.2-21] the client must use the server's value
    c.keepaliveMs = lim.maxKeepaliveS * 1000;
  }
  c.sessionExpiryS = Math.min(props.sessionExpiryInterval ?? 0, lim.maxSessionExpiryS);
  c.requestProblemInfo = props.requestProblemInformation !== false;
  c.clientAliasMax = proto === 5 ? (props.topicAliasMaximum ?? 0) : 0;
  c.clientMaxPacketBytes = proto === 5 ? (props.maximumPacketSize ?? 0) : 0;

  ports
    .authenticate(
      {
        mountpoint: c.mountpoint,
        clientId,
        username,
        password: p.password === undefined ? undefined : Buffer.from(p.password).toString('base64'),
        peer: c.peer,
        protocolVersion: proto,
      },
      () => c.phase === 'connecting',
    )
    .then((auth) => {
      if (c.phase !== 'connecting') return;
      if (auth.result !== 'ok') {
        ports.authRefused(c, username, auth.result);
        const code = connackCodeFor(auth.result, proto);
        refuseConnect(c, ports, code, code, auth.result);
        return;
      }
      c.acl = auth.acl;
      c.username = username;
      if (will && !checkPublish(c.acl, will.topic, will.qos, will.retain, will.payload.length)) {
        ports.authRefused(c, username, 'will_acl');
        refuseConnect(c, ports, RC.NOT_AUTHORIZED, RC3.NOT_AUTHORIZED, 'will_acl');
        return;
      }
      c.shard = shardOf(c.key, ports.shards);
      const env: ConnectEnv = {
        kind: SessIn.Connect,
        key: c.key,
        mountpoint: c.mountpoint,
        clientId,
        gateway: ports.gatewayId,
        connId: c.id,
        proto,
        cleanStart: p.clean !== false,
        keepaliveS: c.keepaliveMs / 1000,
        sessionExpiryS: proto === 5 ? c.sessionExpiryS : undefined,
        receiveMaximum: proto === 5 ? (props.receiveMaximum ?? 65535) : 65535,
        maxPacketBytes: c.clientMaxPacketBytes,
        username,
      };
      if (will) env.will = { message: will, delayS: willDelayS };
      return ports.connectSession(env).then(
        (r) => {
          if (c.phase !== 'connecting') {
            // The socket died while the owner attached it: tell the owner, with the new epoch.
            if (r.rc === 0) ports.toSession(c, { kind: SessIn.ConnLost, key: c.key, epoch: r.epoch, reason: LostReason.SocketClosed });
            return;
          }
          if (r.rc !== 0) {
            refuseConnect(c, ports, r.rc, RC3.SERVER_UNAVAILABLE, 'session');
            return;
          }
          c.epoch = r.epoch;
          c.phase = 'connected';
          const ack: Record<string, unknown> = { cmd: 'connack', sessionPresent: r.sessionPresent };
          if (proto === 5) {
            ack.reasonCode = 0;
            const ap: Record<string, unknown> = {
              receiveMaximum: lim.receiveMaximum,
              maximumPacketSize: lim.maxPacketBytes,
              topicAliasMaximum: lim.maxTopicAlias,
              wildcardSubscriptionAvailable: lim.allowWildcardSubscriptions,
              subscriptionIdentifiersAvailable: true,
              sharedSubscriptionAvailable: true,
              retainAvailable: true,
            };
            if (assigned !== undefined) ap.assignedClientIdentifier = assigned;
            if (serverKeepAlive !== undefined) ap.serverKeepAlive = serverKeepAlive;
            if (c.sessionExpiryS !== (props.sessionExpiryInterval ?? 0)) ap.sessionExpiryInterval = c.sessionExpiryS;
            ack.properties = ap;
          } else ack.returnCode = 0;
          ports.send(c, ack as unknown as Packet);
          ports.connected(c);
        },
        () => {
          if (c.phase === 'connecting') refuseConnect(c, ports, RC.SERVER_UNAVAILABLE, RC3.SERVER_UNAVAILABLE, 'session_unavailable');
        },
      );
    })
    .catch((err: unknown) => ports.fault(c, err)); // a bug in this chain closes this connection, not the process
}
