import {
  type Bus,
  type BusMsg,
  type BusSubscription,
  type Config,
  type AuthBackendName,
  type Logger,
  type Metrics,
  LogEveryNth,
  subjectKind,
  unknownVersionCounter,
  type SubjectSpace,
  chainOrder,
  configuredBackends,
  AuthProtocolError,
  AuthVersionError,
  decodeAuthorizeRequest,
  decodeAuthRequest,
  encodeAuthorizeReply,
  encodeAuthReply,
  type AuthorizeReply,
  type AuthReply,
  type AuthRequest,
  type AuthResult,
} from '../../common/src/index.js';
import type { Counter } from 'prom-client';
import { AclWarnings } from './backends/acl-warnings.js';
import { HttpBackend } from './backends/http-backend.js';
import { JwtBackend } from './backends/jwt-backend.js';
import { authCacheHits, PostgresBackend, postgresMetrics } from './backends/postgres-backend.js';
import { HttpTopicAuthorizer } from './backends/http-topic-authorizer.js';
import { CredentialKeyer } from './cache/credential-cache.js';
import type { AuthBackend } from './chain/auth-backend.js';
import { runChain } from './chain/run-chain.js';

export interface AuthServiceDeps {
  bus: Bus;
  subjects: SubjectSpace;
  log: Logger;
  metrics: Metrics;
}

/**
 * CONNECT authentication for every gateway: answers `subjects.authConnect` requests in queue group
 * `subjects.authQueue`, so any number of replicas may run (SHARDMQ_ROLES=auth), or the same code
 * runs inside the one-process broker.
 *
 * Decisions (docs/auth.md): the backends of auth.chain (JWT, HTTP, PostgreSQL) are asked in order
 * and the first that does not ignore the CONNECT decides (chain/run-chain.ts).
 * - No backend configured: every client is accepted without ACL (a warning is logged once).
 * - Every backend ignored it: without user name, accepted without ACL only with allowAnonymous,
 *   else not authorized; with a user name, bad credentials.
 * - A backend that cannot reach its server answers from its cache (credentials verified less than
 *   auth.staleWhileDownMs ago) or "unavailable" (never "bad password").
 */
export class AuthService {
  private sub?: BusSubscription;
  private authorizeSub?: BusSubscription;
  private started = false;
  private readonly backends: AuthBackend[];
  private readonly topics?: HttpTopicAuthorizer;
  private readonly keyer = new CredentialKeyer();
  private readonly inflight = new Map<string, Promise<AuthReply>>();
  private readonly malformedLog = new LogEveryNth();
  /**
   * Requests being answered, counted rather than kept in a Set: a Set that every request enters and
   * leaves rebuilds its hash table every few hundred requests, garbage that a connect burst gets
   * promoted to the old generation (docs/operations.md, "Memory per connection").
   */
  private answering = 0;
  /** Resolves stop()'s wait once `answering` is back to 0. */
  private answeredAll: (() => void) | undefined;
  private readonly m: {
    requests: Counter<'result'>;
    answers: Counter<'backend' | 'answer'>;
    malformed: Counter<'subject_kind'>;
    unknownVersion: Counter<'subject_kind'>;
  };

  private constructor(
    private readonly config: Config,
    private readonly deps: AuthServiceDeps,
  ) {
    const metrics = deps.metrics;
    this.m = {
      requests: metrics.counter('auth_requests_total', 'CONNECT authentications answered, by result.', ['result']),
      answers: metrics.counter('auth_backend_answers_total', 'Answers of each authentication backend of the chain: allow, deny, ignore, unavailable.', ['backend', 'answer']),
      // The bus guard's counter: a malformed request is answered here (not-authorized), not dropped.
      malformed: metrics.counter('bus_malformed_envelopes_total', 'Bus messages dropped because they did not decode, by subject kind.', ['subject_kind']),
      unknownVersion: unknownVersionCounter(metrics),
    };
    postgresMetrics(metrics);
    authCacheHits(metrics);
    const order = chainOrder(config['auth.chain'], configuredBackends(config));
    const aclWarnings = new AclWarnings(deps.log);
    const common = { log: deps.log, metrics, keyer: this.keyer, aclWarnings };
    const make: Record<AuthBackendName, () => AuthBackend> = {
      postgres: () => new PostgresBackend(config, common),
      http: () => new HttpBackend(config, common),
      jwt: () => new JwtBackend(config, common),
    };
    this.backends = order.map((b) => make[b]());
    if (config['auth.http.aclUrl'] !== undefined) this.topics = new HttpTopicAuthorizer(config, { log: deps.log, metrics });
  }

  /** Validates the auth settings (throws ConfigError naming the setting) and builds the service. */
  static create(config: Config, deps: AuthServiceDeps): AuthService {
    return new AuthService(config, deps);
  }

  /** True when a database is configured (credentials are checked against PostgreSQL). */
  get databaseEnabled(): boolean {
    return this.backends.some((b) => b.name === 'postgres');
  }

  /** The backends asked, in order (auth.chain). */
  get chain(): readonly AuthBackendName[] {
    return this.backends.map((b) => b.name);
  }

  async start(): Promise<void> {
    if (this.started) return;
    const { log } = this.deps;
    if (this.backends.length === 0) {
      log.warn(
        'no auth database configured and no HTTP or JWT authentication (SHARDMQ_AUTH_DATABASE_URL, SHARDMQ_AUTH_HTTP_URL, SHARDMQ_AUTH_JWT_*): every client is accepted without credentials or ACL',
      );
    } else {
      log.info('authentication chain configured', {
        chain: this.chain,
        allowAnonymous: this.config.allowAnonymous,
        backends: Object.fromEntries(this.backends.map((b) => [b.name, b.describe()])),
      });
      for (const b of this.backends) await b.start();
    }
    this.sub = this.deps.bus.subscribe(this.deps.subjects.authConnect, (msg) => this.onMessage(msg), { queue: this.deps.subjects.authQueue });
    if (this.topics) {
      log.info('per-message authorization configured', this.topics.describe());
      this.authorizeSub = this.deps.bus.subscribe(this.deps.subjects.authAuthorize, (msg) => this.track(this.answerAuthorize(msg)), { queue: this.deps.subjects.authQueue });
    }
    this.started = true;
  }

  /** Stops answering, lets running answers finish, closes workers, pools and timers. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    // Drain, not unsubscribe: requests NATS already sent to this member are still answered.
    const subs = [this.sub, this.authorizeSub];
    this.sub = this.authorizeSub = undefined;
    await Promise.all(subs.map((s) => s?.drain()));
    if (this.answering > 0) await new Promise<void>((resolve) => (this.answeredAll = resolve));
    for (const b of this.backends) await b.stop();
    this.topics?.close();
  }

  /** Subscribed, and every backend that can tell (PostgreSQL) reached its server at the last contact. */
  ready(): boolean {
    return this.started && this.backends.every((b) => b.ready());
  }

  /** The authentication itself (also callable in-process, e.g. by tests). Never rejects. */
  async authenticate(req: AuthRequest): Promise<AuthReply> {
    if (this.backends.length === 0) return { result: 'ok', acl: null };
    const password = req.password === undefined ? undefined : Buffer.from(req.password, 'base64');
    const key = this.keyer.key(req.mountpoint, req.clientId, req.username, password);
    // Identical concurrent CONNECTs (a device retrying fast) share one verification.
    let p = this.inflight.get(key);
    if (!p) {
      p = runChain(
        this.backends,
        { req, password, key },
        {
          allowAnonymous: this.config.allowAnonymous,
          onAnswer: (b, a) => this.m.answers.inc({ backend: b.name, answer: a.kind }),
        },
      ).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private onMessage(msg: BusMsg): void {
    this.track(this.answer(msg));
  }

  private track(task: Promise<void>): void {
    this.answering++;
    void task.finally(() => {
      if (--this.answering === 0 && this.answeredAll !== undefined) {
        this.answeredAll();
        this.answeredAll = undefined;
      }
    });
  }

  /** One per-message authorization (auth.http.aclUrl); a malformed request is refused, never dropped. */
  private async answerAuthorize(msg: BusMsg): Promise<void> {
    let reply: AuthorizeReply;
    try {
      reply = await this.topics!.authorize(decodeAuthorizeRequest(msg.data));
    } catch (e) {
      if (e instanceof AuthVersionError) {
        this.m.unknownVersion.inc({ subject_kind: subjectKind(this.deps.subjects.authAuthorize) });
        const n = this.malformedLog.hit('version');
        if (n !== undefined) this.deps.log.warn('authorize request of another contract version', { major: String(e.major), occurrences: n });
      } else if (e instanceof AuthProtocolError) {
        this.m.malformed.inc({ subject_kind: subjectKind(this.deps.subjects.authAuthorize) });
        const n = this.malformedLog.hit('authorize');
        if (n !== undefined) this.deps.log.warn('malformed authorize request', { error: e.message, occurrences: n });
      } else this.deps.log.error('authorize request failed', { error: e as Error });
      reply = { allow: false, ttlMs: 0 };
    }
    msg.respond(encodeAuthorizeReply(reply));
  }

  private async answer(msg: BusMsg): Promise<void> {
    let reply: AuthReply;
    try {
      const req = decodeAuthRequest(msg.data);
      reply = await this.authenticate(req);
    } catch (e) {
      if (e instanceof AuthVersionError) {
        // A gateway of another release: it may retry against an auth service that speaks its version.
        this.m.unknownVersion.inc({ subject_kind: subjectKind(this.deps.subjects.authConnect) });
        const n = this.malformedLog.hit('version');
        if (n !== undefined) this.deps.log.warn('auth request of another contract version', { major: String(e.major), occurrences: n });
        reply = { result: 'unavailable', acl: null, reason: 'auth contract version not supported' };
      } else if (e instanceof AuthProtocolError) {
        this.m.malformed.inc({ subject_kind: subjectKind(this.deps.subjects.authConnect) });
        const n = this.malformedLog.hit('request');
        if (n !== undefined) this.deps.log.warn('malformed auth request', { error: e.message, occurrences: n });
        reply = { result: 'not-authorized', acl: null, reason: 'malformed auth request' };
      } else {
        this.deps.log.error('auth request failed', { error: e as Error });
        reply = { result: 'unavailable', acl: null, reason: 'internal error' };
      }
    }
    this.m.requests.inc({ result: reply.result });
    msg.respond(encodeAuthReply(reply));
  }
}

/** For metrics dashboards and tests: every result label auth_requests_total may carry. */
export const AUTH_RESULTS: readonly AuthResult[] = ['ok', 'bad-credentials', 'not-authorized', 'unavailable'];
