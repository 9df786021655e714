/**
 * Topic matching written straight from the spec by splitting into levels, independently of the
 * index-walking matchers under test [MQTT-4.7]: `+` one level, `#` the rest (parent level
 * included). Tests only.
 */
export function referenceMatch(filter: string, topic: string): boolean {
  // [MQTT-4.7.2-1] a first-level wildcard does not match a topic starting with `$`.
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  return referenceLevelsMatch(filter, topic);
}

/** Level-by-level matching alone, without the `$` rule. */
export function referenceLevelsMatch(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
