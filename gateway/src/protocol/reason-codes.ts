/** MQTT 5 reason codes the gateway uses (OASIS MQTT 5.0 section 2.4), and 3.1.1 CONNACK codes. */
export const RC = {
  SUCCESS: 0x00,
  NO_MATCHING_SUBSCRIBERS: 0x10,
  UNSPECIFIED: 0x80,
  MALFORMED: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC: 0x83,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  CLIENT_ID_NOT_VALID: 0x85,
  BAD_USER_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_SHUTTING_DOWN: 0x8b,
  BAD_AUTH_METHOD: 0x8c,
  KEEPALIVE_TIMEOUT: 0x8d,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  QUOTA_EXCEEDED: 0x97,
  USE_ANOTHER_SERVER: 0x9c,
  WILDCARD_NOT_SUPPORTED: 0xa2,
} as const;

/** 3.1.1 CONNACK return codes [MQTT-3.2.2-4]. */
export const RC3 = {
  ACCEPTED: 0x00,
  UNACCEPTABLE_PROTOCOL: 0x01,
  IDENTIFIER_REJECTED: 0x02,
  SERVER_UNAVAILABLE: 0x03,
  BAD_USER_OR_PASSWORD: 0x04,
  NOT_AUTHORIZED: 0x05,
} as const;

/** MQTT 5 Reason Strings for the DISCONNECTs and CONNACKs the gateway sends (operator-facing, no secrets). */
export const REASON_TEXT: Readonly<Record<number, string>> = {
  [RC.MALFORMED]: 'malformed packet',
  [RC.PROTOCOL_ERROR]: 'protocol error',
  [RC.CLIENT_ID_NOT_VALID]: 'client identifier not valid',
  [RC.BAD_USER_OR_PASSWORD]: 'bad user name or password',
  [RC.NOT_AUTHORIZED]: 'not authorized',
  [RC.SERVER_UNAVAILABLE]: 'server unavailable, retry later',
  [RC.SERVER_SHUTTING_DOWN]: 'server shutting down',
  [RC.BAD_AUTH_METHOD]: 'enhanced authentication is not supported',
  [RC.KEEPALIVE_TIMEOUT]: 'keep alive timeout',
  [0x8e]: 'session taken over by another connection',
  [RC.TOPIC_FILTER_INVALID]: 'topic filter invalid',
  [RC.TOPIC_NAME_INVALID]: 'topic name invalid',
  [RC.RECEIVE_MAXIMUM_EXCEEDED]: 'receive maximum exceeded',
  [RC.TOPIC_ALIAS_INVALID]: 'topic alias invalid',
  [RC.PACKET_TOO_LARGE]: 'packet too large',
  [RC.QUOTA_EXCEEDED]: 'quota exceeded',
  [RC.USE_ANOTHER_SERVER]: 'server shutting down, use another server',
};
