import { type Config, redactUrl, type Logger, type Metrics } from '../../../common/src/index.js';
import { CredentialCache, type CredentialKeyer } from '../cache/credential-cache.js';
import type { AuthBackend, BackendAnswer, CredentialInput } from '../chain/auth-backend.js';
import { cachePolicy } from '../http/cache-control.js';
import { decideHttpAnswer, httpAuthRequestBody } from '../http/http-answer.js';
import { authApiClient, HttpCallError, type HttpAnswer, type JsonHttpClient } from '../http/json-over-http.js';
import { retryWithJitter } from '../http/retry-with-jitter.js';
import type { AclWarnings } from './acl-warnings.js';
import { authCacheHits, whileDown } from './postgres-backend.js';

/** A status worth asking again: the server is overloaded or failing, not answering "no". */
class RetriableStatus extends Error {
  constructor(readonly answer: HttpAnswer) {
    super(`status ${answer.status}`);
  }
}

/**
 * The HTTP authentication backend (docs/auth.md, "HTTP backend"): POSTs each CONNECT to
 * auth.http.url and follows the answer (allow with VerneMQ-shaped ACLs, deny, ignore).
 * Connection errors, timeouts, 429 and 5xx are retried (auth.http.retries, full jitter); when
 * the server still cannot answer, the "database down" policy applies: credentials allowed less
 * than auth.staleWhileDownMs ago are allowed from the cache, others get "unavailable".
 * Answers are cached as Cache-Control says (http/cache-control.ts). The password travels only in
 * the request body and is never logged. Runs on the auth-service.
 */
export class HttpBackend implements AuthBackend {
  readonly name = 'http' as const;
  private readonly url: string;
  private readonly client: JsonHttpClient;
  private readonly cache: CredentialCache;
  private readonly headers: Record<string, string>;
  private readonly m: {
    cacheHits: ReturnType<typeof authCacheHits>;
    errors: ReturnType<Metrics['counter']>;
    seconds: ReturnType<Metrics['histogram']>;
  };

  constructor(
    private readonly config: Config,
    private readonly deps: { log: Logger; metrics: Metrics; keyer: CredentialKeyer; aclWarnings: AclWarnings },
  ) {
    this.url = config['auth.http.url']!;
    ({ client: this.client, headers: this.headers } = authApiClient(config));
    this.cache = new CredentialCache({
      ttlMs: config['auth.http.cacheTtlMs'],
      negativeTtlMs: config['auth.http.negativeCacheTtlMs'],
      staleMs: config['auth.staleWhileDownMs'],
      maxEntries: config['auth.cacheMaxEntries'],
      keyer: deps.keyer,
    });
    this.m = {
      cacheHits: authCacheHits(deps.metrics),
      errors: deps.metrics.counter(
        'auth_http_errors_total',
        'HTTP auth server failures, by kind: timeout, connect, tls, status (429/5xx or unexpected), too-large, malformed (unusable answer; that CONNECT is refused).',
        ['kind'],
      ),
      seconds: deps.metrics.histogram('auth_http_request_seconds', 'Time of one HTTP auth request (retries included).', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
    };
  }

  describe(): Record<string, unknown> {
    return { url: redactUrl(this.url), timeoutMs: this.config['auth.http.timeoutMs'], retries: this.config['auth.http.retries'], caFile: this.config['auth.http.caFile'] };
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.client.close();
  }

  /** No background probe: a down server shows in auth_http_errors_total and "unavailable" answers. */
  ready(): boolean {
    return true;
  }

  async authenticate(input: CredentialInput): Promise<BackendAnswer> {
    const { req, key } = input;
    const hit = this.cache.get(key);
    if (hit.kind === 'fresh') {
      this.m.cacheHits.inc({ backend: this.name, kind: hit.entry.ok ? 'fresh' : 'negative' });
      return hit.entry.ok ? { kind: 'allow', acl: hit.entry.acl } : { kind: 'deny', result: 'bad-credentials' };
    }
    const t0 = process.hrtime.bigint();
    let answer: HttpAnswer;
    try {
      answer = await retryWithJitter(
        async () => {
          const a = await this.client.request('POST', this.url, { body: httpAuthRequestBody(req, input.password), headers: this.headers });
          if (a.status === 429 || a.status >= 500) throw new RetriableStatus(a);
          return a;
        },
        {
          retries: this.config['auth.http.retries'],
          baseDelayMs: this.config['auth.http.retryBaseDelayMs'],
          retriable: (e) => e instanceof RetriableStatus || (e instanceof HttpCallError && e.kind !== 'too-large'),
        },
      );
    } catch (e) {
      if (e instanceof HttpCallError && e.kind === 'too-large') {
        // The server answered, but nothing we will read: like a malformed answer, this client only.
        this.m.errors.inc({ kind: 'too-large' });
        this.deps.log.warn('HTTP auth answer unusable; CONNECT refused', { mountpoint: req.mountpoint, clientId: req.clientId, username: req.username, error: e.message });
        return { kind: 'deny', result: 'not-authorized', reason: 'auth server answer malformed' };
      }
      const kind = e instanceof HttpCallError ? e.kind : 'status';
      this.m.errors.inc({ kind });
      this.deps.log.warn('HTTP auth server did not answer', { url: redactUrl(this.url), kind, error: (e as Error).message, clientId: req.clientId });
      return whileDown(this.cache, key, 'HTTP auth server unavailable', () => this.m.cacheHits.inc({ backend: this.name, kind: 'stale' }));
    } finally {
      this.m.seconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    }

    if (answer.status !== 200 && answer.status !== 401 && answer.status !== 403) {
      // 404, 400, a redirect: a misconfigured URL or server, not a verdict on this device.
      this.m.errors.inc({ kind: 'status' });
      this.deps.log.warn('HTTP auth server answered an unexpected status', { url: redactUrl(this.url), status: answer.status, clientId: req.clientId });
      return whileDown(this.cache, key, 'HTTP auth server unavailable', () => this.m.cacheHits.inc({ backend: this.name, kind: 'stale' }));
    }
    const username = req.username ?? '';
    const d = decideHttpAnswer(answer.status, answer.body, { mountpoint: req.mountpoint, clientId: req.clientId, username });
    const cc = answer.headers['cache-control'];
    switch (d.kind) {
      case 'malformed':
        this.m.errors.inc({ kind: 'malformed' });
        // Names the client, never the password or the answer body (it may hold the ACL of others).
        this.deps.log.warn('HTTP auth answer unusable; CONNECT refused', { mountpoint: req.mountpoint, clientId: req.clientId, username: req.username, status: answer.status, error: d.error });
        return { kind: 'deny', result: 'not-authorized', reason: 'auth server answer malformed' };
      case 'ignore':
        return { kind: 'ignore' };
      case 'deny': {
        const p = cachePolicy(cc, { defaultTtlMs: this.config['auth.http.negativeCacheTtlMs'], maxTtlMs: this.config['auth.http.maxCacheTtlMs'] });
        if (p.store) this.cache.set(key, false, null, p.ttlMs);
        else this.cache.delete(key);
        return d.reason === undefined ? { kind: 'deny', result: 'bad-credentials' } : { kind: 'deny', result: 'bad-credentials', reason: d.reason };
      }
      case 'allow': {
        this.deps.aclWarnings.once(req.mountpoint, username, d.warnings, this.name);
        const p = cachePolicy(cc, { defaultTtlMs: this.config['auth.http.cacheTtlMs'], maxTtlMs: this.config['auth.http.maxCacheTtlMs'] });
        if (p.store) this.cache.set(key, true, d.acl, p.ttlMs);
        else this.cache.delete(key);
        return { kind: 'allow', acl: d.acl };
      }
    }
  }
}
