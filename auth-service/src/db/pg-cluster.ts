import pg from 'pg';
import type { Logger, TargetSessionAttrs } from '../../../common/src/index.js';
import { tlsForHost, type DbOptions } from './connection-options.js';
import type { PgHost } from './connection-string.js';

/**
 * Several PostgreSQL hosts behind one `query()`: one pg.Pool per host, hosts tried in the
 * configured order, role (primary/standby) learnt with `SELECT pg_is_in_recovery()`, a failed host
 * skipped for hostRetryMs and probed again in the background. node-postgres has none of this
 * (no multi-host strings, no target_session_attrs).
 *
 * Errors: a query that cannot reach any suitable host rejects with DatabaseUnavailableError (the
 * caller answers "server unavailable"); an error PostgreSQL raised for the statement itself
 * (syntax, missing table, permission) is rethrown unchanged and does not fail the host over.
 * Used by the auth-service (reads) and the user CLI (writes, read-write).
 */

export class DatabaseUnavailableError extends Error {
  readonly code = 'DB_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUnavailableError';
  }
}

export type HostRole = 'unknown' | 'primary' | 'standby';

export interface HostStatus {
  readonly host: string;
  readonly port: number;
  /** undefined until first contact. */
  readonly up: boolean | undefined;
  readonly role: HostRole;
  readonly lastError?: string;
}

interface HostState {
  readonly addr: PgHost;
  readonly name: string;
  readonly pool: pg.Pool;
  up: boolean | undefined;
  role: HostRole;
  retryAt: number;
  lastError?: string;
}

export interface PgClusterDeps {
  log: Logger;
  /** Called with a low-cardinality kind for every database error (metrics). */
  onError?: (kind: 'connect' | 'timeout' | 'query' | 'tls' | 'auth') => void;
  /** Called when the cluster goes from no host up to some host up and back. */
  onAvailability?: (up: boolean) => void;
  now?: () => number;
}

/** SQLSTATEs that mean "this server cannot serve us right now", not "your statement is wrong". */
const HOST_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '28P01', '28000', '3D000', '25006']);
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED']);

function classify(e: unknown): 'connect' | 'timeout' | 'tls' | 'auth' | 'statement' {
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  const msg = err.message ?? '';
  if (code === '28P01' || code === '28000') return 'auth';
  if (code.startsWith('08') || HOST_SQLSTATES.has(code) || NET_CODES.has(code)) return 'connect';
  if (/timeout|timed out/i.test(msg)) return 'timeout';
  if (/terminated|Connection ended|ended unexpectedly|not queryable|ECONNRESET|socket/i.test(msg)) return 'connect';
  if (/certificate|self[- ]signed|Hostname\/IP does not match|SSL|TLS/i.test(msg) || code.startsWith('ERR_TLS') || code.includes('CERT')) return 'tls';
  if (/^[0-9A-Z]{5}$/.test(code)) return 'statement';
  return 'connect';
}

export class PgCluster {
  private readonly hosts: HostState[];
  private readonly now: () => number;
  private healthTimer?: NodeJS.Timeout;
  private anyUp: boolean | undefined;
  private closed = false;

  constructor(
    private readonly opts: DbOptions,
    private readonly deps: PgClusterDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.hosts = opts.hosts.map((addr) => {
      const name = addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
      const tls = tlsForHost(opts, addr.host);
      const pool = new pg.Pool({
        host: addr.host,
        port: addr.port,
        user: opts.user,
        password: opts.password,
        database: opts.database,
        // Always explicit: an unset ssl would let PGSSLMODE from the environment decide.
        ssl: tls ?? false,
        max: opts.poolSize,
        connectionTimeoutMillis: opts.connectTimeoutMs,
        query_timeout: opts.queryTimeoutMs,
        statement_timeout: opts.queryTimeoutMs,
        idleTimeoutMillis: 30000,
        keepAlive: true,
        application_name: opts.applicationName,
        allowExitOnIdle: true,
      });
      const st: HostState = { addr, name, pool, up: undefined, role: 'unknown', retryAt: 0 };
      // An idle client losing its server (restart, failover) must not crash the process.
      pool.on('error', (err) => this.markDown(st, err, 'idle connection lost'));
      return st;
    });
  }

  /** Host names for logs ("h1:5432,h2:5432"). */
  describe(): string {
    return this.hosts.map((h) => h.name).join(',');
  }

  status(): HostStatus[] {
    return this.hosts.map((h) => ({ host: h.addr.host, port: h.addr.port, up: h.up, role: h.role, lastError: h.lastError }));
  }

  /** True when the last contact with some host succeeded (undefined hosts count as not up). */
  isUp(): boolean {
    return this.hosts.some((h) => h.up === true);
  }

  /**
   * Runs one statement on the first suitable host. `attrs` overrides the configured
   * targetSessionAttrs (the CLI writes with 'read-write').
   */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = [], attrs: TargetSessionAttrs = this.opts.targetSessionAttrs): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new DatabaseUnavailableError('database client closed');
    const failures: string[] = [];
    const now = this.now();
    const order = this.candidates(attrs);
    let tried = 0;
    for (const h of order) {
      if (h.up === false && h.retryAt > now) {
        failures.push(`${h.name}: ${h.lastError ?? 'down'} (retrying after ${Math.max(0, h.retryAt - now)} ms)`);
        continue;
      }
      tried++;
      let client: pg.PoolClient;
      try {
        client = await h.pool.connect();
      } catch (e) {
        // A saturated pool times out waiting for a free client: overload, not a dead host.
        const saturated = h.pool.totalCount >= this.opts.poolSize && /timeout/i.test((e as Error).message);
        if (saturated) {
          this.deps.onError?.('timeout');
          throw new DatabaseUnavailableError(`${h.name}: all ${this.opts.poolSize} connections busy`);
        }
        this.markDown(h, e, 'connect');
        failures.push(`${h.name}: ${(e as Error).message}`);
        continue;
      }
      let releaseWith: Error | undefined;
      try {
        if (!this.roleFits(h.role, attrs)) {
          const r = await client.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
          this.markUp(h, r.rows[0]?.standby ? 'standby' : 'primary');
          if (!this.roleFits(h.role, attrs)) {
            failures.push(`${h.name}: is a ${h.role}, ${attrs} wanted`);
            continue;
          }
        }
        const res = await client.query<R>({ text, values });
        this.markUp(h, h.role);
        return res;
      } catch (e) {
        const kind = classify(e);
        if (kind === 'statement') {
          this.markUp(h, h.role);
          this.deps.onError?.('query');
          throw e;
        }
        releaseWith = e as Error;
        this.markDown(h, e, 'query');
        failures.push(`${h.name}: ${(e as Error).message}`);
      } finally {
        client.release(releaseWith);
      }
    }
    throw new DatabaseUnavailableError(tried === 0 && failures.length === 0 ? 'no database host configured' : `no suitable database host reachable: ${failures.join('; ')}`);
  }

  /**
   * Probes every host once (role and reachability). Run by the health check; also usable at
   * start-up. Never throws.
   */
  async probe(): Promise<void> {
    await Promise.all(
      this.hosts.map(async (h) => {
        try {
          const r = await h.pool.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
          this.markUp(h, r.rows[0]?.standby ? 'standby' : 'primary');
        } catch (e) {
          this.markDown(h, e, 'probe');
        }
      }),
    );
  }

  /** Background probe every intervalMs (unref'd: never keeps the process alive). */
  startHealthCheck(intervalMs: number): void {
    if (this.healthTimer || this.closed) return;
    let running = false;
    this.healthTimer = setInterval(() => {
      if (running) return;
      running = true;
      void this.probe().finally(() => (running = false));
    }, intervalMs);
    this.healthTimer.unref();
  }

  async end(): Promise<void> {
    this.closed = true;
    if (this.healthTimer) clearInterval(this.healthTimer);
    await Promise.all(this.hosts.map((h) => h.pool.end().catch(() => undefined)));
  }

  private candidates(attrs: TargetSessionAttrs): HostState[] {
    switch (attrs) {
      case 'any':
        return this.hosts;
      case 'read-write':
      case 'primary':
        return this.hosts.filter((h) => h.role !== 'standby').concat(this.hosts.filter((h) => h.role === 'standby'));
      case 'read-only':
      case 'standby':
        return this.hosts.filter((h) => h.role !== 'primary').concat(this.hosts.filter((h) => h.role === 'primary'));
      case 'prefer-standby':
        return this.hosts.filter((h) => h.role === 'standby').concat(this.hosts.filter((h) => h.role !== 'standby'));
    }
  }

  /** Whether a host of this (possibly stale) role may serve attrs; unknown roles must be probed. */
  private roleFits(role: HostRole, attrs: TargetSessionAttrs): boolean {
    switch (attrs) {
      case 'any':
      case 'prefer-standby':
        return true;
      case 'read-write':
      case 'primary':
        return role === 'primary';
      case 'read-only':
      case 'standby':
        return role === 'standby';
    }
  }

  private markUp(h: HostState, role: HostRole): void {
    const was = h.up;
    h.up = true;
    h.role = role;
    h.lastError = undefined;
    if (was === false) this.deps.log.info('auth database host recovered', { host: h.name, role });
    this.updateAvailability();
  }

  private markDown(h: HostState, e: unknown, during: string): void {
    const kind = classify(e);
    const message = (e as Error)?.message ?? String(e);
    this.deps.onError?.(kind === 'statement' ? 'query' : kind);
    const was = h.up;
    h.up = false;
    h.role = 'unknown'; // a failover may have changed it; probe again before trusting it
    h.retryAt = this.now() + this.opts.hostRetryMs;
    h.lastError = message;
    if (was !== false) {
      const log = kind === 'tls' || kind === 'auth' ? this.deps.log.error : this.deps.log.warn;
      log.call(this.deps.log, 'auth database host failed', { host: h.name, during, kind, error: message });
    }
    this.updateAvailability();
  }

  private updateAvailability(): void {
    const up = this.isUp();
    if (up !== this.anyUp) {
      this.anyUp = up;
      this.deps.onAvailability?.(up);
    }
  }
}
