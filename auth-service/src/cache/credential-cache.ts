import { createHmac, randomBytes } from 'node:crypto';
import type { ClientAcl } from '../../../common/src/index.js';

/**
 * Bounded TTL cache of authentication answers, so a reconnect storm does not redo every bcrypt
 * and a down database does not lock out devices that authenticated minutes ago.
 *
 * Keys are HMAC-SHA256(mountpoint, client id, user name, password bytes) under a random key made
 * at start: the plain password is never stored, and a memory dump of the cache cannot be used for
 * an offline dictionary attack without the process key. A changed password is a different key, so
 * it never hits an old entry; an old password stays valid for at most ttlMs after a change or
 * deletion (docs/auth.md).
 *
 * Entries: positive ('ok' with its ACL), fresh for ttlMs and, while the database is down, usable
 * for staleMs after verification; negative (bad credentials), fresh for negativeTtlMs.
 * Eviction: least recently used beyond maxEntries (Map insertion order). Owned by one
 * auth-service instance; single-threaded use only.
 */

export interface CacheEntry {
  readonly ok: boolean;
  readonly acl: ClientAcl | null;
  /** When the backend last confirmed this answer (ms since epoch). */
  readonly verifiedAt: number;
  /** How long this answer is fresh: the cache's ttlMs/negativeTtlMs, or the backend's own (HTTP max-age). */
  readonly ttlMs: number;
}

export interface CredentialCacheOptions {
  ttlMs: number;
  negativeTtlMs: number;
  staleMs: number;
  maxEntries: number;
  now?: () => number;
  /** Shared by the caches of every backend so one key per CONNECT serves them all. */
  keyer?: CredentialKeyer;
}

/**
 * Keys for credentials: HMAC-SHA256 over length-prefixed mountpoint, client id, user name and
 * password under a random per-process key, so neither a cache nor a map of requests in flight
 * ever holds a password. An absent user name or password is keyed apart from an empty one.
 */
export class CredentialKeyer {
  private readonly secret = randomBytes(32);

  key(mountpoint: string, clientId: string, username: string | undefined, password: Uint8Array | undefined): string {
    const h = createHmac('sha256', this.secret);
    for (const s of [mountpoint, clientId, username]) {
      if (s === undefined) {
        h.update(ABSENT);
        continue;
      }
      const b = Buffer.from(s, 'utf8');
      h.update(lengthPrefix(b.length));
      h.update(b);
    }
    if (password === undefined) h.update(ABSENT);
    else {
      h.update(lengthPrefix(password.length));
      h.update(password);
    }
    return h.digest('base64');
  }
}

/** A length no real field can have (fields are at most 65535 bytes in MQTT): marks "absent". */
const ABSENT = Buffer.from([0xff, 0xff, 0xff, 0xff]);

export type CacheLookup = { kind: 'fresh'; entry: CacheEntry } | { kind: 'miss' };

export class CredentialCache {
  private readonly map = new Map<string, CacheEntry>();
  private readonly keyer: CredentialKeyer;
  private readonly now: () => number;

  constructor(private readonly opts: CredentialCacheOptions) {
    this.now = opts.now ?? Date.now;
    this.keyer = opts.keyer ?? new CredentialKeyer();
  }

  get size(): number {
    return this.map.size;
  }

  /** The cache key for one set of credentials (see CredentialKeyer). */
  key(mountpoint: string, clientId: string, username: string, password: Uint8Array): string {
    return this.keyer.key(mountpoint, clientId, username, password);
  }

  /** A fresh answer (positive within ttlMs, negative within negativeTtlMs), or miss. */
  get(key: string): CacheLookup {
    const e = this.map.get(key);
    if (!e) return { kind: 'miss' };
    const age = this.now() - e.verifiedAt;
    if (age < e.ttlMs) {
      this.touch(key, e);
      return { kind: 'fresh', entry: e };
    }
    if (!e.ok || age >= Math.max(e.ttlMs, this.opts.staleMs)) this.map.delete(key);
    return { kind: 'miss' };
  }

  /** A positive answer verified less than staleMs ago, for use only while the database is down. */
  getStale(key: string): CacheEntry | undefined {
    const e = this.map.get(key);
    if (!e || !e.ok) return undefined;
    if (this.now() - e.verifiedAt >= this.opts.staleMs) return undefined;
    return e;
  }

  /**
   * Stores an answer. `ttlMs` overrides the cache's own fresh time for this entry (the HTTP
   * backend passes the server's Cache-Control max-age); a positive answer is kept at least
   * staleMs either way, for use while the backend is down.
   */
  set(key: string, ok: boolean, acl: ClientAcl | null, ttlMs?: number): void {
    if (this.opts.maxEntries <= 0) return;
    const ttl = ttlMs ?? (ok ? this.opts.ttlMs : this.opts.negativeTtlMs);
    const keep = ok ? Math.max(ttl, this.opts.staleMs) : ttl;
    if (keep <= 0) {
      this.map.delete(key);
      return;
    }
    this.map.delete(key);
    this.map.set(key, { ok, acl, verifiedAt: this.now(), ttlMs: ttl });
    while (this.map.size > this.opts.maxEntries) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  private touch(key: string, e: CacheEntry): void {
    this.map.delete(key);
    this.map.set(key, e);
  }
}

function lengthPrefix(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
}
