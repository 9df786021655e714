import { parseSharedFilter, topicMatchesFilter } from '../topic.js';
import type { ClientAcl, Qos } from './acl-types.js';

/**
 * ACL checks the gateway runs on every PUBLISH and SUBSCRIBE. Hot path: no allocation, no regex,
 * no JSON; a literal pattern is one string compare, a wildcard pattern one index walk.
 * Callers pass topics and filters the gateway has already validated [MQTT-4.7].
 *
 * `$` topics: patterns follow MQTT matching [MQTT-4.7.2-1], so a pattern starting with a wildcard
 * (`#`, `+/x`) does not grant `$SYS/...`; write the `$` level out (`$SYS/#`). VerneMQ's own matcher
 * let `#` reach `$` topics; we deliberately do not (docs/auth.md).
 */

/**
 * A PUBLISH is allowed by the first entry whose pattern matches the topic and whose limits hold
 * (VerneMQ: qos <= max_qos, payload <= max_payload_size, retain only if allowed_retain).
 * `acl === null` means no enforcement (anonymous mode): always true.
 */
export function checkPublish(acl: ClientAcl | null, topic: string, qos: Qos, retain: boolean, payloadBytes: number): boolean {
  if (acl === null) return true;
  const rules = acl.publish;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (qos > r.maxQos || payloadBytes > r.maxPayloadBytes || (retain && !r.allowedRetain)) continue;
    if (r.wildcard ? topicMatchesFilter(r.pattern, topic) : r.pattern === topic) return true;
  }
  return false;
}

/**
 * A SUBSCRIBE filter is allowed when some entry with max_qos >= the requested QoS covers it:
 * every topic the filter can match is also matched by the pattern (filterWithinPattern).
 * A shared subscription `$share/<group>/<filter>` is allowed when the whole string is covered
 * (VerneMQ-style ACLs that spell out `$share/...`) or when the inner filter is (a client may
 * share-subscribe to what it may subscribe to; the share only splits deliveries).
 */
export function checkSubscribe(acl: ClientAcl | null, filter: string, qos: Qos): boolean {
  if (acl === null) return true;
  if (coveredByAny(acl, filter, 0, qos)) return true;
  if (filter.charCodeAt(0) === 0x24 /* $ */ && filter.startsWith('$share/')) {
    const shared = parseSharedFilter(filter);
    if (shared !== undefined && shared !== 'invalid') {
      return coveredByAny(acl, filter, filter.length - shared.filter.length, qos);
    }
  }
  return false;
}

function coveredByAny(acl: ClientAcl, filter: string, start: number, qos: Qos): boolean {
  const rules = acl.subscribe;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (qos > r.maxQos) continue;
    if (filterWithinPattern(r.pattern, filter, start)) return true;
  }
  return false;
}

/**
 * True when every topic matched by `filter.slice(start)` is also matched by `pattern` (both valid
 * MQTT filters). This is how a subscription is checked against an ACL pattern.
 *
 * VerneMQ compares the subscribed filter's levels with the pattern as if the filter were a topic
 * (`+` and `#` in the filter are plain words that a pattern `+` matches). We agree on every
 * ordinary case (`a/+/c` and `a/b/c` are allowed by `a/+/c`; `a/#` by `a/#` or `#`) and refuse
 * the two cases where that reading let a client receive more than its pattern grants: filter `#`
 * under pattern `+` and filter `a/#` under pattern `a/+` (docs/auth.md).
 * Walks both strings by index: no split, no allocation.
 */
export function filterWithinPattern(pattern: string, filter: string, start = 0): boolean {
  const pn = pattern.length;
  const fn = filter.length;
  if (pn === 0 || fn <= start) return false;
  const p0 = pattern.charCodeAt(0);
  // [MQTT-4.7.2-1]: a pattern starting with a wildcard does not reach `$` topics.
  if (filter.charCodeAt(start) === 0x24 /* $ */ && (p0 === 0x2b || p0 === 0x23)) return false;
  let pi = 0;
  let fi = start;
  for (;;) {
    // pi and fi are at the start of a level.
    const pc = pi < pn ? pattern.charCodeAt(pi) : -1;
    if (pc === 0x23 /* # */) return true; // covers this level, anything below, and the parent
    if (fi > fn) {
      // Filter exhausted (its last level was consumed) while the pattern still needs a level.
      return false;
    }
    const fEnd = levelEnd(filter, fi);
    const fLen = fEnd - fi;
    const fc = fLen === 1 ? filter.charCodeAt(fi) : -1;
    if (fc === 0x23) return false; // filter `#` reaches levels the pattern names one by one
    const pEnd = levelEnd(pattern, pi);
    if (!(pc === 0x2b && pEnd - pi === 1)) {
      // Literal pattern level: the filter level must be the same literal (a filter `+` is wider).
      if (fc === 0x2b) return false;
      if (pEnd - pi !== fLen || !sameChars(pattern, pi, filter, fi, fLen)) return false;
    }
    pi = pEnd + 1;
    fi = fEnd + 1;
    if (pi > pn) return fi > fn; // pattern consumed: the filter must be consumed too
  }
}

function sameChars(a: string, ai: number, b: string, bi: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (a.charCodeAt(ai + k) !== b.charCodeAt(bi + k)) return false;
  return true;
}

function levelEnd(s: string, from: number): number {
  const i = s.indexOf('/', from);
  return i < 0 ? s.length : i;
}
