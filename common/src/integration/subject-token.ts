/**
 * How a mountpoint or an MQTT topic level is spelled as one NATS subject token in the
 * integration subjects (events, exported messages; docs/integration.md, "Subjects").
 *
 * NATS tokens are non-empty and may not contain '.', '*', '>' or whitespace; MQTT levels and
 * mountpoints may contain all of them, and may be empty. One rule, reversible:
 * - the empty string is `_` (the default mountpoint, the empty level of `/a`);
 * - a character outside the allowed set, and `%` itself, is `%XX` per UTF-8 byte (upper-case
 *   hex); the allowed set is every printable ASCII character but `.`, `*`, `>`, `%`, plus every
 *   non-ASCII character that is not whitespace (kept as is, UTF-8 in the subject);
 * - a string that is exactly `_` is `%5F`, so it differs from the empty string.
 * Pure; any tier.
 */

export const EMPTY_TOKEN = '_';

/** Whether the UTF-16 unit c stays as is in a token. */
function plain(c: number): boolean {
  if (c >= 0x80) return !(c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff);
  return c > 0x20 && c !== 0x7f && c !== 0x2e && c !== 0x2a && c !== 0x3e && c !== 0x25;
}

export function subjectToken(s: string): string {
  if (s.length === 0) return EMPTY_TOKEN;
  if (s === EMPTY_TOKEN) return '%5F';
  let i = 0;
  while (i < s.length && plain(s.charCodeAt(i))) i++;
  if (i === s.length) return s; // the common case: nothing to escape, no allocation
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (plain(c)) out += s[i];
    else if (c < 0x80) out += '%' + (c < 16 ? '0' : '') + c.toString(16).toUpperCase();
    else out += encodeURIComponent(s[i]!); // non-ASCII whitespace: its UTF-8 bytes (all in the BMP)
  }
  return out;
}

/** Reverses subjectToken (consumers use it to read a mountpoint or topic back from a subject). */
export function fromSubjectToken(t: string): string {
  if (t === EMPTY_TOKEN) return '';
  return t.includes('%') ? decodeURIComponent(t) : t;
}

/** An MQTT topic as subject tokens: one token per level (`a/b` -> `a.b`, `/a` -> `_.a`). */
export function topicTokens(topic: string): string {
  if (topic.indexOf('/') < 0) return subjectToken(topic);
  return topic.split('/').map(subjectToken).join('.');
}
