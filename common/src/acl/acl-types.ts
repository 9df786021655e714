/**
 * The compiled, per-client ACL. Built once per CONNECT by the auth-service (placeholders already
 * substituted, invalid entries already dropped), sent to the gateway inside the CONNECT answer as
 * JSON, and checked by the gateway on every PUBLISH and SUBSCRIBE (acl/check-acl.ts).
 *
 * Plain data on purpose: it must survive JSON.stringify/parse unchanged.
 */

export type Qos = 0 | 1 | 2;

/** One VerneMQ publish ACL entry after compilation. */
export interface PublishRule {
  /** Topic filter after %m/%u/%c substitution; a valid MQTT filter. */
  readonly pattern: string;
  /** True when pattern contains `+` or `#` (otherwise a plain string compare decides). */
  readonly wildcard: boolean;
  /** `max_qos` (VerneMQ default 2). */
  readonly maxQos: Qos;
  /** `max_payload_size` in bytes (VerneMQ default 268435456). */
  readonly maxPayloadBytes: number;
  /** `allowed_retain` (VerneMQ default true). */
  readonly allowedRetain: boolean;
}

/** One VerneMQ subscribe ACL entry after compilation. */
export interface SubscribeRule {
  readonly pattern: string;
  readonly wildcard: boolean;
  /** `max_qos` (VerneMQ default 2): a SUBSCRIBE asking for more is refused by this entry. */
  readonly maxQos: Qos;
}

/**
 * Empty lists deny everything (VerneMQ: a NULL or empty ACL column allows nothing).
 * `null` where a ClientAcl is expected means "no ACL enforcement" (anonymous mode).
 */
export interface ClientAcl {
  readonly publish: readonly PublishRule[];
  readonly subscribe: readonly SubscribeRule[];
}

/** VerneMQ's default and largest max_payload_size (256 MB). */
export const VMQ_MAX_PAYLOAD_BYTES = 268435456;
