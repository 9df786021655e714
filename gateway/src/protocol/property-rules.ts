import { malformed, protocolError, stringFault, type PacketFault } from './packet-fault.js';

/**
 * MQTT 5 property checks shared by the packet handlers. mqtt-packet decodes whatever the bytes
 * say: a property not allowed in the packet type, a value cut short (-1, null, false), and a
 * repeated property (turned into an array). The spec: an identifier not valid for the packet
 * type, or a value not of its data type, is a Malformed Packet [MQTT 5.0 2.2.2.2]; a property
 * included more than once (other than User Property, and Subscription Identifier on PUBLISH
 * from the server) is a Protocol Error [MQTT-2.2.2-1 / each property's own clause]. Pure;
 * gateway only.
 */

type PropType = 'int32' | 'int16' | 'var' | 'byte' | 'string' | 'binary' | 'pair';

/** The data type of every property a client may send (MQTT 5.0 2.2.2.2). */
const TYPES: Readonly<Record<string, PropType>> = {
  payloadFormatIndicator: 'byte',
  messageExpiryInterval: 'int32',
  contentType: 'string',
  responseTopic: 'string',
  correlationData: 'binary',
  subscriptionIdentifier: 'var',
  sessionExpiryInterval: 'int32',
  authenticationMethod: 'string',
  authenticationData: 'binary',
  requestProblemInformation: 'byte',
  willDelayInterval: 'int32',
  requestResponseInformation: 'byte',
  serverReference: 'string',
  reasonString: 'string',
  receiveMaximum: 'int16',
  topicAliasMaximum: 'int16',
  topicAlias: 'int16',
  userProperties: 'pair',
  maximumPacketSize: 'int32',
};

/** Properties a client may put in each packet type (MQTT 5.0 2.2.2.2, table 2-4). */
export const ALLOWED_PROPS = {
  connect: [
    'sessionExpiryInterval',
    'authenticationMethod',
    'authenticationData',
    'requestProblemInformation',
    'requestResponseInformation',
    'receiveMaximum',
    'topicAliasMaximum',
    'userProperties',
    'maximumPacketSize',
  ],
  will: ['willDelayInterval', 'payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic', 'correlationData', 'userProperties'],
  // Subscription Identifier is listed so onPublish answers it with its own clause [MQTT-3.3.4-6].
  publish: ['payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic', 'correlationData', 'subscriptionIdentifier', 'topicAlias', 'userProperties'],
  ack: ['reasonString', 'userProperties'],
  subscribe: ['subscriptionIdentifier', 'userProperties'],
  unsubscribe: ['userProperties'],
  disconnect: ['sessionExpiryInterval', 'serverReference', 'reasonString', 'userProperties'],
} as const satisfies Record<string, readonly string[]>;

function valueFault(type: PropType, v: unknown): PacketFault | undefined {
  switch (type) {
    case 'int32':
      return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff ? undefined : malformed('property_invalid');
    case 'int16':
      return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffff ? undefined : malformed('property_invalid');
    case 'var':
      return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 268435455 ? undefined : malformed('property_invalid');
    case 'byte':
      return typeof v === 'boolean' ? undefined : malformed('property_invalid');
    case 'string':
      return stringFault(v);
    case 'binary':
      return Buffer.isBuffer(v) ? undefined : malformed('property_invalid');
    case 'pair': {
      if (v === null || typeof v !== 'object') return malformed('property_invalid');
      for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
        const f = stringFault(name);
        if (f) return f;
        for (const s of Array.isArray(value) ? value : [value]) {
          const g = stringFault(s);
          if (g) return g;
        }
      }
      return undefined;
    }
  }
}

/**
 * Checks the properties of one packet (or of a Will) against the allowed list and the data
 * types. `props` as mqtt-packet left it (undefined when the packet had none).
 */
export function propertiesFault(props: object | undefined, allowed: readonly string[]): PacketFault | undefined {
  if (props === undefined) return undefined;
  if (props === null || typeof props !== 'object') return malformed('property_invalid');
  for (const [name, v] of Object.entries(props)) {
    const type = TYPES[name];
    if (type === undefined || !allowed.includes(name)) return malformed('property_not_allowed');
    if (type !== 'pair' && Array.isArray(v)) return protocolError('property_duplicate');
    const f = valueFault(type, v);
    if (f) return f;
  }
  return undefined;
}
