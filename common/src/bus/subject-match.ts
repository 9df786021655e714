/**
 * NATS subject rules for the in-memory bus, so that code tested on it behaves the same
 * on a real nats-server: tokens are separated by '.', '*' matches exactly one token,
 * '>' matches one or more trailing tokens and may only be the last token.
 *
 * Pure functions; anyone may call them. Not on the per-message hot path: the memory bus
 * caches match results per published subject.
 */

/** True when `subject` contains a '*' or '>' token (a wildcard subscription). */
export function hasWildcard(subject: string): boolean {
  const tokens = subject.split('.');
  for (const t of tokens) if (t === '*' || t === '>') return true;
  return false;
}

/**
 * True when `subject` is acceptable to subscribe to: non-empty tokens, no whitespace,
 * '*' and '>' only as whole tokens, '>' only last.
 */
export function isValidSubscribeSubject(subject: string): boolean {
  if (subject.length === 0 || /\s/.test(subject)) return false;
  const tokens = subject.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.length === 0) return false;
    if (t === '>') {
      if (i !== tokens.length - 1) return false;
      continue;
    }
    if (t !== '*' && (t.includes('*') || t.includes('>'))) return false;
  }
  return true;
}

/** True when `subject` is acceptable to publish to: non-empty tokens, no whitespace, no wildcards. */
export function isValidPublishSubject(subject: string): boolean {
  if (subject.length === 0 || /\s/.test(subject)) return false;
  const tokens = subject.split('.');
  for (const t of tokens) if (t.length === 0 || t === '*' || t === '>') return false;
  return true;
}

/**
 * Matches a tokenized filter (from a subscription, possibly with wildcards) against a
 * tokenized literal subject.
 */
export function tokensMatch(filter: readonly string[], subject: readonly string[]): boolean {
  const n = filter.length;
  for (let i = 0; i < n; i++) {
    const f = filter[i]!;
    // '>' needs at least one remaining token: 'a.>' matches 'a.b' and 'a.b.c', not 'a'.
    if (f === '>') return subject.length > i;
    if (i >= subject.length) return false;
    if (f !== '*' && f !== subject[i]) return false;
  }
  return n === subject.length;
}

/** String form of tokensMatch, for tests and rare calls. */
export function subjectMatches(filter: string, subject: string): boolean {
  return tokensMatch(filter.split('.'), subject.split('.'));
}
