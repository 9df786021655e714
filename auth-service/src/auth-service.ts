import type { Bus, BusMsg, BusSubscription } from '../../common/src/bus/bus.js';
import type { Config } from '../../common/src/config/settings.js';
import type { Logger } from '../../common/src/log.js';
import type { Metrics } from '../../common/src/metrics.js';
import { LogEveryNth } from '../../common/src/log-every-nth.js';
import { subjectKind, unknownVersionCounter } from '../../common/src/bus/handler-guard.js';
import type { SubjectSpace } from '../../common/src/subjects.js';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { AclFormatError, compileAcl } from './acl/compile-acl.js';
import { BcryptBusyError, BcryptPool } from './bcrypt/bcrypt-pool.js';
import { CredentialCache } from './cache/credential-cache.js';
import { databaseConfigured, resolveDbOptions } from './db/connection-options.js';
import { DatabaseUnavailableError, PgCluster } from './db/pg-cluster.js';
import { authQuery, orderRows, type CredentialRow, type PasswordMethod } from './db/vmq-queries.js';
import { AuthProtocolError, AuthVersionError, decodeAuthRequest, encodeAuthReply, type AuthReply, type AuthRequest, type AuthResult } from './protocol.js';

export interface AuthServiceDeps {
  bus: Bus;
  subjects: SubjectSpace;
  log: Logger;
  metrics: Metrics;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Distinct (mountpoint, user) pairs whose ACL warnings were logged; bounded so a storm cannot grow it. */
const MAX_WARNED = 10000;

/**
 * CONNECT authentication for every gateway: answers `subjects.authConnect` requests in queue group
 * `subjects.authQueue`, so any number of replicas may run (SHARDMQ_ROLES=auth), or the same code
 * runs inside the one-process broker.
 *
 * Decisions (docs/auth.md):
 * - No database configured: every client is accepted without ACL (a warning is logged once).
 * - Database configured: a CONNECT without user name is refused (not authorized) unless
 *   allowAnonymous, in which case it is accepted without ACL; a user name without password, an
 *   unknown user or a wrong password is refused as bad credentials.
 * - Database unreachable: credentials verified less than auth.staleWhileDownMs ago are accepted
 *   from the cache, anything else is answered "unavailable" (never "bad password").
 */
export class AuthService {
  private sub?: BusSubscription;
  private started = false;
  private readonly cluster?: PgCluster;
  private readonly bcrypt?: BcryptPool;
  private readonly cache: CredentialCache;
  private readonly method: PasswordMethod;
  private readonly query: string;
  private readonly inflight = new Map<string, Promise<AuthReply>>();
  private readonly warned = new Set<string>();
  private readonly malformedLog = new LogEveryNth();
  private readonly inflightRequests = new Set<Promise<void>>();
  private readonly m: {
    requests: Counter<'result'>;
    verify: Histogram<'method'>;
    cacheHits: Counter<'kind'>;
    dbErrors: Counter<'kind'>;
    dbUp: Gauge;
    malformed: Counter<'subject_kind'>;
    unknownVersion: Counter<'subject_kind'>;
  };

  private constructor(private readonly config: Config, private readonly deps: AuthServiceDeps) {
    const metrics = deps.metrics;
    this.m = {
      requests: metrics.counter('auth_requests_total', 'CONNECT authentications answered, by result.', ['result']),
      verify: metrics.histogram(
        'auth_verify_seconds',
        'Time to verify credentials against the database (cache hits excluded), by password method.',
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        ['method'],
      ),
      cacheHits: metrics.counter('auth_cache_hits_total', 'Authentications answered from the credential cache: fresh, negative, or stale (database down).', ['kind']),
      dbErrors: metrics.counter('auth_db_errors_total', 'Auth database errors, by kind (connect, timeout, tls, auth, query).', ['kind']),
      dbUp: metrics.gauge('auth_db_up', '1 when some auth database host answered at the last contact, else 0.'),
      // The bus guard's counter: a malformed request is answered here (not-authorized), not dropped.
      malformed: metrics.counter('bus_malformed_envelopes_total', 'Bus messages dropped because they did not decode, by subject kind.', ['subject_kind']),
      unknownVersion: unknownVersionCounter(metrics),
    };
    this.method = config['auth.passwordMethod'];
    this.cache = new CredentialCache({
      ttlMs: config['auth.cacheTtlMs'],
      negativeTtlMs: config['auth.negativeCacheTtlMs'],
      staleMs: config['auth.staleWhileDownMs'],
      maxEntries: config['auth.cacheMaxEntries'],
    });
    this.query = authQuery(this.method, config['auth.table'], config['auth.query']);
    if (databaseConfigured(config)) {
      const opts = resolveDbOptions(config);
      this.cluster = new PgCluster(opts, {
        log: deps.log,
        onError: (kind) => this.m.dbErrors.inc({ kind }),
        onAvailability: (up) => {
          this.m.dbUp.set(up ? 1 : 0);
          if (!up) deps.log.error('auth database unreachable: unknown credentials are refused as unavailable', { hosts: this.cluster?.describe() });
          else deps.log.info('auth database reachable', { hosts: this.cluster?.describe() });
        },
      });
      if (this.method === 'bcrypt') {
        this.bcrypt = new BcryptPool({ workers: config['auth.bcryptWorkers'], maxQueue: config['auth.bcryptMaxQueue'], log: deps.log });
      }
    }
  }

  /** Validates the auth settings (throws ConfigError naming the setting) and builds the service. */
  static create(config: Config, deps: AuthServiceDeps): AuthService {
    return new AuthService(config, deps);
  }

  /** True when a database is configured (credentials are checked). */
  get databaseEnabled(): boolean {
    return this.cluster !== undefined;
  }

  async start(): Promise<void> {
    if (this.started) return;
    const { log } = this.deps;
    if (!this.cluster) {
      log.warn('no auth database configured (SHARDMQ_AUTH_DATABASE_URL): every client is accepted without credentials or ACL');
    } else {
      log.info('auth database configured', {
        hosts: this.cluster.describe(),
        passwordMethod: this.method,
        table: this.config['auth.table'],
        customQuery: this.config['auth.query'] !== undefined,
        allowAnonymous: this.config.allowAnonymous,
      });
      // Not fatal: the service must run (and answer "unavailable") while the database is down.
      await this.cluster.probe();
      if (!this.cluster.isUp()) log.error('auth database not reachable at start; retrying in the background', { hosts: this.cluster.status() });
      this.m.dbUp.set(this.cluster.isUp() ? 1 : 0);
      this.cluster.startHealthCheck(this.config['auth.healthCheckIntervalMs']);
    }
    this.sub = this.deps.bus.subscribe(this.deps.subjects.authConnect, (msg) => this.onMessage(msg), { queue: this.deps.subjects.authQueue });
    this.started = true;
  }

  /** Stops answering, lets running answers finish, closes workers and database pools. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    // Drain, not unsubscribe: requests NATS already sent to this member are still answered.
    const sub = this.sub;
    this.sub = undefined;
    await sub?.drain();
    await Promise.allSettled([...this.inflightRequests]);
    await this.bcrypt?.close();
    await this.cluster?.end();
  }

  /** Subscribed, and (when configured) some database host answered at the last contact. */
  ready(): boolean {
    return this.started && (this.cluster === undefined || this.cluster.isUp());
  }

  /** The authentication itself (also callable in-process, e.g. by tests). Never rejects. */
  async authenticate(req: AuthRequest): Promise<AuthReply> {
    if (!this.cluster) return { result: 'ok', acl: null };
    if (req.username === undefined) {
      if (this.config.allowAnonymous) return { result: 'ok', acl: null };
      return { result: 'not-authorized', acl: null, reason: 'user name and password required' };
    }
    if (req.password === undefined) return { result: 'bad-credentials', acl: null, reason: 'password required' };
    // PostgreSQL text cannot hold U+0000: such a value can match no row, and sending it would
    // only make the query fail (and count as a database error). [MQTT-1.5.3-2] (3.1.1) and
    // [MQTT-1.5.4-2] (5.0) forbid it in the client id and user name anyway.
    if (hasNul(req.mountpoint) || hasNul(req.clientId) || hasNul(req.username)) {
      return { result: 'bad-credentials', acl: null, reason: 'identity contains U+0000' };
    }
    const pwBytes = Buffer.from(req.password, 'base64');
    let password: string;
    try {
      password = utf8.decode(pwBytes);
    } catch {
      // pgcrypto and bcryptjs both take text; refusing beats guessing a lossy conversion.
      return { result: 'bad-credentials', acl: null, reason: 'password is not valid UTF-8' };
    }
    if (hasNul(password)) return { result: 'bad-credentials', acl: null, reason: 'password contains U+0000' };
    const key = this.cache.key(req.mountpoint, req.clientId, req.username, pwBytes);
    const hit = this.cache.get(key);
    if (hit.kind === 'fresh') {
      this.m.cacheHits.inc({ kind: hit.entry.ok ? 'fresh' : 'negative' });
      return hit.entry.ok ? { result: 'ok', acl: hit.entry.acl } : { result: 'bad-credentials', acl: null };
    }
    // Identical concurrent CONNECTs (a device retrying fast) share one verification.
    let p = this.inflight.get(key);
    if (!p) {
      p = this.verify(req, req.username, password, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private onMessage(msg: BusMsg): void {
    const task = this.answer(msg);
    this.inflightRequests.add(task);
    void task.finally(() => this.inflightRequests.delete(task));
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

  private async verify(req: AuthRequest, username: string, password: string, key: string): Promise<AuthReply> {
    const t0 = process.hrtime.bigint();
    const params = this.method === 'crypt' ? [req.mountpoint, req.clientId, username, password] : [req.mountpoint, req.clientId, username];
    let rows: CredentialRow[];
    try {
      rows = (await this.cluster!.query<CredentialRow & Record<string, unknown>>(this.query, params)).rows;
    } catch (e) {
      if (!(e instanceof DatabaseUnavailableError)) {
        this.deps.log.error('auth query failed (check auth.table / auth.query)', { error: e as Error });
      }
      return this.whileDown(key, e instanceof DatabaseUnavailableError ? 'database unavailable' : 'auth query failed');
    }

    let chosen: CredentialRow | undefined;
    const ordered = orderRows(rows);
    if (this.method === 'crypt') {
      chosen = ordered[0];
    } else {
      for (const row of ordered) {
        if (typeof row.passhash !== 'string' || row.passhash === '') continue;
        try {
          const r = await this.bcrypt!.verify(password, row.passhash);
          if (r.reason) this.deps.log.warn('stored password hash cannot be verified', { mountpoint: req.mountpoint, username, reason: r.reason });
          if (r.match) {
            chosen = row;
            break;
          }
        } catch (e) {
          if (e instanceof BcryptBusyError) {
            this.deps.log.warn('bcrypt queue full: answering unavailable', { maxQueue: e.maxQueue });
            return { result: 'unavailable', acl: null, reason: 'auth service busy' };
          }
          this.deps.log.error('bcrypt verification failed', { error: e as Error });
          return { result: 'unavailable', acl: null, reason: 'auth service error' };
        }
      }
    }
    this.m.verify.observe({ method: this.method }, Number(process.hrtime.bigint() - t0) / 1e9);

    if (!chosen) {
      this.cache.set(key, false, null);
      return { result: 'bad-credentials', acl: null };
    }
    try {
      const compiled = compileAcl(chosen.publish_acl, chosen.subscribe_acl, { mountpoint: req.mountpoint, clientId: req.clientId, username });
      if (compiled.warnings.length > 0) this.warnOnce(req.mountpoint, username, compiled.warnings);
      this.cache.set(key, true, compiled.acl);
      return { result: 'ok', acl: compiled.acl };
    } catch (e) {
      if (e instanceof AclFormatError) {
        // Names the row (its key columns), never the password or the ACL text.
        this.deps.log.warn('ACL of user is malformed; CONNECT refused', { mountpoint: req.mountpoint, clientId: chosen.client_id, username, error: e.message });
        return { result: 'not-authorized', acl: null, reason: 'ACL malformed' };
      }
      throw e;
    }
  }

  /** The answer while the database cannot be asked: a recent verification, else unavailable. */
  private whileDown(key: string, reason: string): AuthReply {
    const stale = this.cache.getStale(key);
    if (stale) {
      this.m.cacheHits.inc({ kind: 'stale' });
      return { result: 'ok', acl: stale.acl };
    }
    return { result: 'unavailable', acl: null, reason };
  }

  private warnOnce(mountpoint: string, username: string, warnings: readonly string[]): void {
    const k = `${mountpoint}\u0000${username}`;
    if (this.warned.has(k)) return;
    if (this.warned.size >= MAX_WARNED) this.warned.clear();
    this.warned.add(k);
    this.deps.log.warn('ACL entries ignored for user', { mountpoint, username, warnings });
  }
}

function hasNul(s: string | undefined): boolean {
  return s !== undefined && s.includes('\u0000');
}

/** For metrics dashboards and tests: every result label auth_requests_total may carry. */
export const AUTH_RESULTS: readonly AuthResult[] = ['ok', 'bad-credentials', 'not-authorized', 'unavailable'];
