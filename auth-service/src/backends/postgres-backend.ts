import type { Config, Logger, Metrics } from '../../../common/src/index.js';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { AclFormatError, compileAcl } from '../acl/compile-acl.js';
import { BcryptBusyError, BcryptPool } from '../bcrypt/bcrypt-pool.js';
import { CredentialCache, type CredentialKeyer } from '../cache/credential-cache.js';
import type { AuthBackend, BackendAnswer, CredentialInput } from '../chain/auth-backend.js';
import { resolveDbOptions } from '../db/connection-options.js';
import { DatabaseUnavailableError, PgCluster } from '../db/pg-cluster.js';
import { authQuery, orderRows, type CredentialRow, type PasswordMethod } from '../db/vmq-queries.js';
import type { AclWarnings } from './acl-warnings.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The VerneMQ `vmq_auth_acl` backend (docs/auth.md). Ignores CONNECTs without a user name (the
 * chain then applies the anonymous rule); answers every other one definitively: a user name
 * without password, an unknown user or a wrong password is denied as bad credentials.
 * While the database is unreachable, credentials verified less than auth.staleWhileDownMs ago are
 * allowed from the cache, anything else is "unavailable" (never "bad password").
 * Runs on the auth-service.
 */
export class PostgresBackend implements AuthBackend {
  readonly name = 'postgres' as const;
  private readonly cluster: PgCluster;
  private readonly bcrypt?: BcryptPool;
  private readonly cache: CredentialCache;
  private readonly method: PasswordMethod;
  private readonly query: string;
  private readonly m: { verify: Histogram<'method'>; cacheHits: Counter<'kind' | 'backend'> };
  private readonly dbUp: Gauge;

  constructor(
    private readonly config: Config,
    private readonly deps: { log: Logger; metrics: Metrics; keyer: CredentialKeyer; aclWarnings: AclWarnings },
  ) {
    const metrics = deps.metrics;
    const { verify, dbErrors, dbUp } = postgresMetrics(metrics);
    this.m = { verify, cacheHits: authCacheHits(metrics) };
    this.method = config['auth.passwordMethod'];
    this.cache = new CredentialCache({
      ttlMs: config['auth.cacheTtlMs'],
      negativeTtlMs: config['auth.negativeCacheTtlMs'],
      staleMs: config['auth.staleWhileDownMs'],
      maxEntries: config['auth.cacheMaxEntries'],
      keyer: deps.keyer,
    });
    this.query = authQuery(this.method, config['auth.table'], config['auth.query']);
    this.cluster = new PgCluster(resolveDbOptions(config), {
      log: deps.log,
      onError: (kind) => dbErrors.inc({ kind }),
      onAvailability: (up) => {
        dbUp.set(up ? 1 : 0);
        if (!up) deps.log.error('auth database unreachable: unknown credentials are refused as unavailable', { hosts: this.cluster.describe() });
        else deps.log.info('auth database reachable', { hosts: this.cluster.describe() });
      },
    });
    this.dbUp = dbUp;
    if (this.method === 'bcrypt') {
      this.bcrypt = new BcryptPool({ workers: config['auth.bcryptWorkers'], maxQueue: config['auth.bcryptMaxQueue'], log: deps.log });
    }
  }

  describe(): Record<string, unknown> {
    return { hosts: this.cluster.describe(), passwordMethod: this.method, table: this.config['auth.table'], customQuery: this.config['auth.query'] !== undefined };
  }

  async start(): Promise<void> {
    // Not fatal: the service must run (and answer "unavailable") while the database is down.
    await this.cluster.probe();
    if (!this.cluster.isUp()) this.deps.log.error('auth database not reachable at start; retrying in the background', { hosts: this.cluster.status() });
    this.dbUp.set(this.cluster.isUp() ? 1 : 0);
    this.cluster.startHealthCheck(this.config['auth.healthCheckIntervalMs']);
  }

  async stop(): Promise<void> {
    await this.bcrypt?.close();
    await this.cluster.end();
  }

  ready(): boolean {
    return this.cluster.isUp();
  }

  async authenticate(input: CredentialInput): Promise<BackendAnswer> {
    const { req } = input;
    if (req.username === undefined) return { kind: 'ignore' };
    if (input.password === undefined) return { kind: 'deny', result: 'bad-credentials', reason: 'password required' };
    // PostgreSQL text cannot hold U+0000: such a value can match no row, and sending it would
    // only make the query fail (and count as a database error). [MQTT-1.5.3-2] (3.1.1) and
    // [MQTT-1.5.4-2] (5.0) forbid it in the client id and user name anyway.
    if (hasNul(req.mountpoint) || hasNul(req.clientId) || hasNul(req.username)) {
      return { kind: 'deny', result: 'bad-credentials', reason: 'identity contains U+0000' };
    }
    let password: string;
    try {
      password = utf8.decode(input.password);
    } catch {
      // pgcrypto and bcryptjs both take text; refusing beats guessing a lossy conversion.
      return { kind: 'deny', result: 'bad-credentials', reason: 'password is not valid UTF-8' };
    }
    if (hasNul(password)) return { kind: 'deny', result: 'bad-credentials', reason: 'password contains U+0000' };
    const hit = this.cache.get(input.key);
    if (hit.kind === 'fresh') {
      this.m.cacheHits.inc({ backend: this.name, kind: hit.entry.ok ? 'fresh' : 'negative' });
      return hit.entry.ok ? { kind: 'allow', acl: hit.entry.acl } : { kind: 'deny', result: 'bad-credentials' };
    }
    return this.verify(input, req.username, password);
  }

  private async verify(input: CredentialInput, username: string, password: string): Promise<BackendAnswer> {
    const { req, key } = input;
    const t0 = process.hrtime.bigint();
    const params = this.method === 'crypt' ? [req.mountpoint, req.clientId, username, password] : [req.mountpoint, req.clientId, username];
    let rows: CredentialRow[];
    try {
      rows = (await this.cluster.query<CredentialRow & Record<string, unknown>>(this.query, params)).rows;
    } catch (e) {
      if (!(e instanceof DatabaseUnavailableError)) {
        this.deps.log.error('auth query failed (check auth.table / auth.query)', { error: e as Error });
      }
      return whileDown(this.cache, key, e instanceof DatabaseUnavailableError ? 'database unavailable' : 'auth query failed', () => this.m.cacheHits.inc({ backend: this.name, kind: 'stale' }));
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
            return { kind: 'unavailable', reason: 'auth service busy' };
          }
          this.deps.log.error('bcrypt verification failed', { error: e as Error });
          return { kind: 'unavailable', reason: 'auth service error' };
        }
      }
    }
    this.m.verify.observe({ method: this.method }, Number(process.hrtime.bigint() - t0) / 1e9);

    if (!chosen) {
      this.cache.set(key, false, null);
      return { kind: 'deny', result: 'bad-credentials' };
    }
    try {
      const compiled = compileAcl(chosen.publish_acl, chosen.subscribe_acl, { mountpoint: req.mountpoint, clientId: req.clientId, username });
      this.deps.aclWarnings.once(req.mountpoint, username, compiled.warnings);
      this.cache.set(key, true, compiled.acl);
      return { kind: 'allow', acl: compiled.acl };
    } catch (e) {
      if (e instanceof AclFormatError) {
        // Names the row (its key columns), never the password or the ACL text.
        this.deps.log.warn('ACL of user is malformed; CONNECT refused', { mountpoint: req.mountpoint, clientId: chosen.client_id, username, error: e.message });
        return { kind: 'deny', result: 'not-authorized', reason: 'ACL malformed' };
      }
      throw e;
    }
  }
}

/**
 * The PostgreSQL backend's metric families. The auth-service creates them whatever is configured,
 * as it did before the chain existed: dashboards and alert rules query them (auth_db_up stays 0
 * without a database).
 */
export function postgresMetrics(metrics: Metrics): { verify: Histogram<'method'>; dbErrors: Counter<'kind'>; dbUp: Gauge } {
  return {
    verify: metrics.histogram(
      'auth_verify_seconds',
      'Time to verify credentials against the database (cache hits excluded), by password method.',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      ['method'],
    ),
    dbErrors: metrics.counter('auth_db_errors_total', 'Auth database errors, by kind (connect, timeout, tls, auth, query).', ['kind']),
    dbUp: metrics.gauge('auth_db_up', '1 when some auth database host answered at the last contact, else 0.'),
  };
}

/** shardmq_auth_cache_hits_total{backend, kind}: one counter for every caching backend. */
export function authCacheHits(metrics: Metrics): Counter<'kind' | 'backend'> {
  return metrics.counter('auth_cache_hits_total', 'Authentications answered from a credential cache, by backend and kind: fresh, negative, or stale (backend down).', ['kind', 'backend']);
}

/**
 * The answer while a backend cannot be asked (the "database down" policy, shared by PostgreSQL
 * and HTTP): a positive answer verified less than auth.staleWhileDownMs ago, else unavailable.
 */
export function whileDown(cache: CredentialCache, key: string, reason: string, onStale: () => void): BackendAnswer {
  const stale = cache.getStale(key);
  if (stale) {
    onStale();
    return { kind: 'allow', acl: stale.acl };
  }
  return { kind: 'unavailable', reason };
}

function hasNul(s: string | undefined): boolean {
  return s !== undefined && s.includes('\u0000');
}
