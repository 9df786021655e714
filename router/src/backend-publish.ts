import { type BusMsg, type RoutePublish, ROUTE_NO_MATCH, ROUTE_OK, ROUTE_QUOTA, messageFromHeaders, validateTopicName } from '../../common/src/index.js';

/**
 * The backend publish API (docs/integration.md, "Publishing to devices"): a NATS request on
 * `<prefix>.api.v1.publish`, payload as the body, topic, QoS, retain and properties in the same
 * headers as exported messages; routed like a device's PUBLISH with the broker's identity (no
 * ACL, origin '' so No Local never drops it and it is not exported again). The reply is JSON
 * (one per request, not per delivery). Runs on routers (queue group `api`).
 */

export interface BackendPublishReply {
  ok: boolean;
  /** ok: whether any session's subscription matched (the message went to at least one session). */
  matched?: boolean;
  error?: string;
}

const MOUNTPOINT = /^[^\u0000/#+]*$/;

export interface BackendPublishLimits {
  maxTopicLevels: number;
  maxPacketBytes: number;
}

/** The route request of a backend publish, or the refusal to answer with. */
export function backendPublishOf(msg: BusMsg, lim: BackendPublishLimits): RoutePublish | BackendPublishReply {
  let hm;
  try {
    hm = messageFromHeaders(msg.headers, msg.data);
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
  const bad = validateTopicName(hm.message.topic, lim.maxTopicLevels);
  if (bad) return { ok: false, error: `topic is not a topic name: ${bad}` };
  if (!MOUNTPOINT.test(hm.mountpoint)) return { ok: false, error: 'mountpoint may not contain NUL, /, + or #' };
  if (msg.data.length > lim.maxPacketBytes) return { ok: false, error: `payload larger than mqtt.maxPacketBytes (${lim.maxPacketBytes})` };
  return { mountpoint: hm.mountpoint, message: hm.message };
}

/** The JSON answer for a route status. */
export function backendPublishReply(status: number): BackendPublishReply {
  if (status === ROUTE_OK) return { ok: true, matched: true };
  if (status === ROUTE_NO_MATCH) return { ok: true, matched: false };
  if (status === ROUTE_QUOTA) return { ok: false, error: 'retained message quota exceeded (router.maxRetainedMessages / maxRetainedBytes)' };
  return { ok: false, error: 'not routed: a shard owner did not accept it in time' };
}

export function encodeReply(r: BackendPublishReply): Buffer {
  return Buffer.from(JSON.stringify(r));
}
