import { createLocalJWKSet, errors, type CryptoKey, type JWSHeaderParameters, type FlattenedJWSInput } from 'jose';
import { type Logger, redactUrl } from '../../../common/src/index.js';
import type { JsonHttpClient } from '../http/json-over-http.js';

/** No key set could be fetched yet: tokens signed with JWKS keys cannot be checked ("unavailable"). */
export class JwksUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwksUnavailableError';
  }
}

type LocalSet = ReturnType<typeof createLocalJWKSet>;

/**
 * Public keys from a JWKS endpoint (RFC 7517 §5), chosen by the token's kid/alg:
 * - fetched at start and every refreshMs in the background (key rotation reaches us without a
 *   token having to fail first);
 * - fetched again when a token names a kid we do not have, at most once per minRefreshMs (a flood
 *   of tokens with made-up kids cannot turn into a flood of requests to the key server);
 * - a failed or malformed fetch keeps the last good key set (a short JWKS outage refuses nobody);
 *   only before the first good fetch are tokens answered "unavailable".
 * One fetch runs at a time; concurrent callers share it. Runs on the auth-service.
 */
export class JwksKeys {
  private set?: LocalSet;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private inflight?: Promise<void>;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    private readonly http: JsonHttpClient,
    private readonly o: { refreshMs: number; minRefreshMs: number; now?: () => number },
    private readonly deps: { log: Logger; onFetch: (result: 'ok' | 'error') => void },
  ) {}

  async start(): Promise<void> {
    await this.refresh();
    if (!this.set) this.deps.log.error('JWKS not available at start; tokens signed with its keys are refused as unavailable until a fetch succeeds', { url: redactUrl(this.url) });
    this.timer = setInterval(() => void this.refresh(), this.o.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The key for a token (jose's key resolver). Throws JWKSNoMatchingKey or JwksUnavailableError. */
  async key(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    if (!this.set) {
      if (this.mayRefetch()) await this.refresh();
      if (!this.set) throw new JwksUnavailableError('no JWKS fetched yet');
    }
    try {
      return await this.set(header, token);
    } catch (e) {
      if (!(e instanceof errors.JWKSNoMatchingKey) || !this.mayRefetch()) throw e;
      // A kid we do not know: the key server may have rotated since our last fetch.
      await this.refresh();
      return await this.set(header, token);
    }
  }

  private mayRefetch(): boolean {
    return (this.o.now ?? Date.now)() - this.lastAttemptAt >= this.o.minRefreshMs;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.fetchOnce().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async fetchOnce(): Promise<void> {
    this.lastAttemptAt = (this.o.now ?? Date.now)();
    try {
      const a = await this.http.request('GET', this.url);
      if (a.status !== 200) throw new Error(`status ${a.status}`);
      const jwks = JSON.parse(a.body.toString('utf8')) as unknown;
      // createLocalJWKSet checks the shape ({"keys": [...]}) and throws JWKSInvalid otherwise.
      this.set = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
      this.deps.onFetch('ok');
    } catch (e) {
      this.deps.onFetch('error');
      this.deps.log.warn('JWKS fetch failed; keeping the last keys', { url: redactUrl(this.url), error: (e as Error).message, haveKeys: this.set !== undefined });
    }
  }
}
