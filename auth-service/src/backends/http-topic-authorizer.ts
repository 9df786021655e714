import type { Counter } from 'prom-client';
import { type Config, redactUrl, type Logger, type Metrics, type AuthorizeReply, type AuthorizeRequest } from '../../../common/src/index.js';
import { cachePolicy } from '../http/cache-control.js';
import { authApiClient, HttpCallError, type JsonHttpClient } from '../http/json-over-http.js';
import { retryWithJitter } from '../http/retry-with-jitter.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Per-message authorization (auth.http.aclUrl, docs/auth.md "Per-message authorization"): POSTs
 * one PUBLISH topic or SUBSCRIBE filter that the CONNECT ACL already allowed, and returns allow or
 * deny with how long the connection may reuse the answer (Cache-Control max-age, no-store, else
 * auth.http.aclCacheTtlMs). Fails closed: a server that cannot be reached (after the bounded,
 * jittered retries of the HTTP backend), any status but 200/401/403, or a body that is not
 * {"result": "allow" | "deny"} denies that one message or filter, not reused. Runs on the auth-service.
 */
export class HttpTopicAuthorizer {
  private readonly url: string;
  private readonly client: JsonHttpClient;
  private readonly headers: Record<string, string>;
  private readonly answers: Counter<'action' | 'result'>;

  constructor(
    private readonly config: Config,
    private readonly deps: { log: Logger; metrics: Metrics },
  ) {
    this.url = config['auth.http.aclUrl']!;
    ({ client: this.client, headers: this.headers } = authApiClient(config));
    this.answers = deps.metrics.counter(
      'auth_topic_authorizations_total',
      'Per-message authorization answers (auth.http.aclUrl), by action and result: allow, deny, error (server unreachable or answer unusable: denied).',
      ['action', 'result'],
    );
  }

  describe(): Record<string, unknown> {
    return { aclUrl: redactUrl(this.url) };
  }

  close(): void {
    this.client.close();
  }

  async authorize(req: AuthorizeRequest): Promise<AuthorizeReply> {
    const body = { clientid: req.clientId, username: req.username ?? null, mountpoint: req.mountpoint, action: req.action, topic: req.topic, qos: req.qos, retain: req.retain };
    let status: number;
    let text: Uint8Array;
    let cc: string | undefined;
    try {
      const a = await retryWithJitter(
        async () => {
          const r = await this.client.request('POST', this.url, { body, headers: this.headers });
          if (r.status === 429 || r.status >= 500) throw new HttpCallError('status', `status ${r.status}`, r.status);
          return r;
        },
        {
          retries: this.config['auth.http.retries'],
          baseDelayMs: this.config['auth.http.retryBaseDelayMs'],
          retriable: (e) => e instanceof HttpCallError && e.kind !== 'too-large',
        },
      );
      status = a.status;
      text = a.body;
      cc = a.headers['cache-control'];
    } catch (e) {
      return this.error(req, (e as Error).message);
    }
    let allow: boolean;
    if (status === 401 || status === 403) allow = false;
    else if (status !== 200) return this.error(req, `unexpected status ${status}`);
    else {
      let result: unknown;
      try {
        result = (JSON.parse(utf8.decode(text)) as { result?: unknown } | null)?.result;
      } catch {
        result = undefined;
      }
      if (result !== 'allow' && result !== 'deny') return this.error(req, 'answer is not {"result": "allow" | "deny"}');
      allow = result === 'allow';
    }
    this.answers.inc({ action: req.action, result: allow ? 'allow' : 'deny' });
    const p = cachePolicy(cc, { defaultTtlMs: this.config['auth.http.aclCacheTtlMs'], maxTtlMs: this.config['auth.http.maxCacheTtlMs'] });
    return { allow, ttlMs: p.store ? p.ttlMs : 0 };
  }

  private error(req: AuthorizeRequest, error: string): AuthorizeReply {
    this.answers.inc({ action: req.action, result: 'error' });
    // Names the client and action, not the topic (it may carry personal data) nor any secret.
    this.deps.log.warn('per-message authorization failed; refused', { url: redactUrl(this.url), action: req.action, mountpoint: req.mountpoint, clientId: req.clientId, error });
    return { allow: false, ttlMs: 0 };
  }
}
