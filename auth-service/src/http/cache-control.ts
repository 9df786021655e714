/**
 * How long an HTTP auth answer may be reused, from its Cache-Control header (RFC 9111 §5.2.2).
 * Pure; runs on the auth-service for every answer of the HTTP backend.
 *
 * - `no-store` (or `no-cache`, which forbids reuse without asking again, and `private` is fine:
 *   we are the only user of the answer): the answer is not stored at all, so it is not served
 *   while the server is down either;
 * - `max-age=N`: fresh for N seconds, at most maxTtlMs; `max-age=0` is stored only for the
 *   "server down" policy (staleWhileDownMs), never answered while the server is up;
 * - no header, or no usable directive: the configured default TTL (allow / deny).
 */
export interface CachePolicy {
  /** Store the answer at all. */
  readonly store: boolean;
  /** Fresh time in ms (0: never answered from cache while the server answers). */
  readonly ttlMs: number;
}

export function cachePolicy(header: string | undefined, o: { defaultTtlMs: number; maxTtlMs: number }): CachePolicy {
  const cc = parseCacheControl(header);
  if (cc.noStore) return { store: false, ttlMs: 0 };
  if (cc.maxAgeS !== undefined) return { store: true, ttlMs: Math.min(cc.maxAgeS * 1000, o.maxTtlMs) };
  return { store: true, ttlMs: Math.min(o.defaultTtlMs, o.maxTtlMs) };
}

/** The directives we act on. A malformed max-age is ignored (RFC 9111 §4.2.1: treat as absent). */
export function parseCacheControl(header: string | undefined): { noStore: boolean; maxAgeS?: number } {
  const out: { noStore: boolean; maxAgeS?: number } = { noStore: false };
  if (!header) return out;
  for (const part of header.split(',')) {
    const [rawName, rawValue] = part.split('=', 2) as [string, string | undefined];
    const name = rawName.trim().toLowerCase();
    if (name === 'no-store' || name === 'no-cache') out.noStore = true;
    else if (name === 'max-age' && rawValue !== undefined) {
      const v = rawValue.trim().replace(/^"(.*)"$/, '$1');
      // Only digits (RFC 9111 delta-seconds); a value beyond 2^31 s is capped like any other.
      if (/^\d{1,12}$/.test(v)) out.maxAgeS = Number(v);
    }
  }
  return out;
}
