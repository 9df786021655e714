/**
 * How a mountpoint or an MQTT topic level is spelled as one NATS subject token in the
 * integration subjects (events, exported messages; docs/integration.md, "Subjects").
 *
 * NATS tokens are non-empty and may not contain '.', '*', '>' or whitespace; MQTT levels and
 * mountpoints may contain all of them, and may be empty. One rule, reversible:
 * - the empty string is `_` (the default mountpoint, the empty level of `/a`);
 * - a byte outside the allowed set, and `%` itself, is `%XX` (upper-case hex of its UTF-8 byte);
 *   the allowed set is every printable ASCII character but `.`, `*`, `>`, `%`, plus every
 *   non-ASCII character (kept as is, UTF-8 in the subject);
 * - a string that is exactly `_` is `%5F`, so it differs from the empty string.
 * Pure; any tier.
 */

export const EMPTY_TOKEN = '_';

function plain(code: number): boolean {
  return code > 0x20 && code !== 0x7f && code !== 0x2e && code !== 0x2a && code !== 0x3e && code !== 0x25;
}

export function subjectToken(s: string): string {
  if (s.length === 0) return EMPTY_TOKEN;
  if (s === EMPTY_TOKEN) return '%5F';
  let i = 0;
  while (i < s.length && (s.charCodeAt(i) >= 0x80 || plain(s.charCodeAt(i)))) i++;
  if (i === s.length) return s; // the common case: nothing to escape, no allocation
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80 || plain(c)) out += s[i];
    else out += '%' + (c < 16 ? '0' : '') + c.toString(16).toUpperCase();
  }
  return out;
}

/** Reverses subjectToken (consumers use it to read a mountpoint or topic back from a subject). */
export function fromSubjectToken(t: string): string {
  if (t === EMPTY_TOKEN) return '';
  return t.includes('%') ? t.replace(/%([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))) : t;
}

/** An MQTT topic as subject tokens: one token per level (`a/b` -> `a.b`, `/a` -> `_.a`). */
export function topicTokens(topic: string): string {
  if (topic.indexOf('/') < 0) return subjectToken(topic);
  return topic.split('/').map(subjectToken).join('.');
}
