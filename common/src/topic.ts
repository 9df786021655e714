/**
 * Pure MQTT topic logic: validation of topic names and filters, `$share` parsing, and matching.
 * No I/O, no state: safe to call from any tier (gateway validates, router and auth match).
 *
 * Why we validate here at all: mqtt-packet 9 checks none of this (it passes NUL, wildcards in
 * PUBLISH topics and filters like `a/#/b`, and replaces malformed UTF-8 with U+FFFD), so the
 * gateway must enforce [MQTT-1.5.4] and [MQTT-4.7] itself.
 */

/** A UTF-8 encoded string is at most 65535 bytes [MQTT-1.5.4]. */
export const maxTopicBytes = 65535;

/**
 * Checks the characters shared by names and filters and counts levels and UTF-8 bytes.
 * Returns a reason, or undefined. `wildcards` selects filter rules; when false any `+`/`#` fails.
 * One pass, no allocation.
 */
function scan(s: string, maxLevels: number, wildcards: boolean): string | undefined {
  const n = s.length;
  if (n === 0) return wildcards ? 'empty topic filter' : 'empty topic name'; // [MQTT-4.7.3-1]
  let levels = 1;
  let bytes = 0;
  let levelStart = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
      if (c === 0x2f /* / */) {
        if (++levels > maxLevels) return `more than ${maxLevels} topic levels`;
        levelStart = i + 1;
      } else if (c === 0x2b /* + */) {
        if (!wildcards) return 'wildcard + in topic name'; // [MQTT-3.3.2-2]
        // [MQTT-4.7.1-2] `+` must occupy an entire level.
        if (i !== levelStart || (i + 1 < n && s.charCodeAt(i + 1) !== 0x2f)) return '+ must be a whole level';
      } else if (c === 0x23 /* # */) {
        if (!wildcards) return 'wildcard # in topic name'; // [MQTT-3.3.2-2]
        // [MQTT-4.7.1-1] `#` must be the whole last level.
        if (i !== levelStart || i !== n - 1) return '# must be the whole last level';
      } else if (c === 0) {
        return 'NUL character'; // [MQTT-1.5.4-2]
      }
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A well-formed surrogate pair is one supplementary character (4 UTF-8 bytes); anything
      // else is a lone surrogate, which is not a character at all [MQTT-1.5.4-1].
      if (c <= 0xdbff && i + 1 < n) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          bytes += 4;
          i++;
          continue;
        }
      }
      return 'lone surrogate (U+D800..U+DFFF)';
    } else if (c === 0xfffd) {
      // Deliberate choice: mqtt-packet decodes malformed UTF-8 to U+FFFD, so by the time we see the
      // string the bad bytes are gone; rejecting U+FFFD is the only way to honour [MQTT-1.5.4-1]
      // (malformed UTF-8 MUST close the connection). The price: a client that really sends
      // U+FFFD (EF BF BD) is rejected too. No sane topic uses the replacement character.
      return 'U+FFFD (malformed UTF-8)';
    } else {
      bytes += 3;
    }
  }
  if (bytes > maxTopicBytes) return `longer than ${maxTopicBytes} UTF-8 bytes`;
  return undefined;
}

/**
 * Validates a PUBLISH topic name (also a Will topic). Returns undefined when valid, else a short
 * reason for logs / reason strings. Rules: non-empty [MQTT-4.7.3-1], no `+`/`#` [MQTT-3.3.2-2],
 * no U+0000 [MQTT-1.5.4-2], no lone surrogates [MQTT-1.5.4-1], no U+FFFD (see scan), at most
 * maxLevels levels, at most 65535 UTF-8 bytes. Control characters U+0001..U+001F / U+007F..U+009F
 * are allowed: the spec only says a receiver MAY reject them [MQTT-1.5.4].
 */
export function validateTopicName(topic: string, maxLevels: number): string | undefined {
  return scan(topic, maxLevels, false);
}

/**
 * Validates a plain SUBSCRIBE / UNSUBSCRIBE topic filter: non-empty [MQTT-4.7.3-1], `#` only as
 * the whole last level [MQTT-4.7.1-1], `+` only as a whole level [MQTT-4.7.1-2], plus the character
 * and length rules of validateTopicName. For `$share/<group>/<filter>` call parseSharedFilter first
 * and validate the returned inner filter (this function would accept the whole string as a plain
 * filter, counting `$share/<group>` as two levels).
 */
export function validateTopicFilter(filter: string, maxLevels: number): string | undefined {
  return scan(filter, maxLevels, true);
}

const SHARE_PREFIX = '$share/';

/**
 * Splits `$share/<group>/<filter>` [MQTT-4.8.2]. Returns undefined when the filter is not shared
 * (does not start with `$share/`; a bare `$share` is an ordinary filter), `'invalid'` when the share
 * name is empty or contains `/`, `+` or `#` [MQTT-4.8.2-1] or the inner filter is missing or empty
 * [MQTT-4.8.2-2]. The inner filter still needs validateTopicFilter.
 */
export function parseSharedFilter(filter: string): { group: string; filter: string } | undefined | 'invalid' {
  if (!filter.startsWith(SHARE_PREFIX)) return undefined;
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  if (slash < 0) return 'invalid';
  const group = filter.slice(SHARE_PREFIX.length, slash);
  if (group.length === 0 || group.includes('+') || group.includes('#')) return 'invalid';
  const inner = filter.slice(slash + 1);
  if (inner.length === 0) return 'invalid';
  return { group, filter: inner };
}

/** True when the filter contains a wildcard level (`+` or `#`); a valid filter is assumed. */
export function isWildcardFilter(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

/**
 * Full MQTT matching of a topic name against a (valid) topic filter [MQTT-4.7]:
 * `+` matches exactly one level, which may be empty; `#` matches the rest including the parent
 * level (`a/#` matches `a`); a filter whose first level is a wildcard never matches a topic that
 * starts with `$` [MQTT-4.7.2-1]. Walks both strings by index: no split, no allocation.
 * Behaviour on invalid filters is unspecified (wildcard characters inside a level compare literally).
 */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  const fn = filter.length;
  const tn = topic.length;
  if (fn === 0 || tn === 0) return false;
  if (topic.charCodeAt(0) === 0x24 /* $ */) {
    const f0 = filter.charCodeAt(0);
    if (f0 === 0x2b || f0 === 0x23) return false; // [MQTT-4.7.2-1]
  }
  let fi = 0;
  let ti = 0;
  for (;;) {
    // Both fi and ti are at the start of a level here.
    const fc = fi < fn ? filter.charCodeAt(fi) : -1;
    if (fc === 0x23 /* # */ && fi === fn - 1) return true;
    if (fc === 0x2b /* + */ && (fi + 1 === fn || filter.charCodeAt(fi + 1) === 0x2f)) {
      fi++;
      while (ti < tn && topic.charCodeAt(ti) !== 0x2f) ti++;
    } else {
      while (fi < fn) {
        const c = filter.charCodeAt(fi);
        if (c === 0x2f) break;
        if (ti >= tn || topic.charCodeAt(ti) !== c) return false;
        fi++;
        ti++;
      }
      if (ti < tn && topic.charCodeAt(ti) !== 0x2f) return false;
    }
    // Now each side is at the end or at a `/`.
    if (fi === fn) return ti === tn;
    if (ti === tn) {
      // Topic is exhausted but the filter has more: only `/#` may follow (parent-level match).
      return fi + 2 === fn && filter.charCodeAt(fi + 1) === 0x23;
    }
    fi++;
    ti++;
  }
}
