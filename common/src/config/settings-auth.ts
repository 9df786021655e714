import { bool, int, list, oneOf, optStr, str, type Setting } from './setting.js';

/**
 * Auth service settings (issue 4): database connection (URL or discrete settings, TLS, several
 * hosts with failover, pool, timeouts), password method, VerneMQ table/query, cache and
 * down-database behaviour. docs/auth.md explains each group.
 */

const PG_PROTOCOLS = ['postgres', 'postgresql'] as const;

/**
 * A PostgreSQL connection string that may name several hosts (`postgres://u:p@h1:5432,h2:5433/db`),
 * which `new URL` and node-postgres both reject. Checked lightly here (scheme, one parseable
 * authority); auth-service/src/db/connection-string.ts parses it fully at start-up.
 */
function pgUrl(o: { default: string | undefined; doc: string }): Setting<string | undefined> {
  const check = (s: string): string | undefined => {
    const t = s.trim();
    if (t === '') return undefined;
    const m = /^([a-z]+):\/\/(?:[^@/?#]*@)?([^/?#]*)/i.exec(t);
    if (!m) throw new Error('is not a PostgreSQL URL (postgres://user:password@host:5432,host2:5432/database)');
    if (!(PG_PROTOCOLS as readonly string[]).includes(m[1]!.toLowerCase())) {
      throw new Error(`must use one of ${PG_PROTOCOLS.map((p) => p + '://').join(', ')}`);
    }
    for (const h of m[2]!.split(',')) {
      try {
        new URL(`postgres://${h}`);
      } catch {
        throw new Error(`has an invalid host "${h}"`);
      }
    }
    return t;
  };
  return {
    type: 'url',
    default: o.default,
    doc: o.doc,
    secret: true,
    parse: check,
    fromJson(v) {
      if (v === null || v === undefined) return undefined;
      if (typeof v !== 'string') throw new Error('must be a string');
      return check(v);
    },
  };
}

/** An enum that may stay unset (then a value from the connection string, or a documented default, applies). */
function optOneOf<V extends string>(o: { doc: string; values: readonly V[] }): Setting<V | undefined> {
  const check = (s: string): V | undefined => {
    const t = s.trim();
    if (t === '') return undefined;
    if (!(o.values as readonly string[]).includes(t)) throw new Error(`must be one of ${o.values.join(', ')}, got "${s}"`);
    return t as V;
  };
  return {
    type: 'enum',
    default: undefined,
    doc: o.doc,
    values: o.values,
    parse: check,
    fromJson(v) {
      if (v === null || v === undefined) return undefined;
      if (typeof v !== 'string') throw new Error('must be a string');
      return check(v);
    },
  };
}

export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];
export const TARGET_SESSION_ATTRS = ['any', 'read-write', 'primary', 'read-only', 'standby', 'prefer-standby'] as const;
export type TargetSessionAttrs = (typeof TARGET_SESSION_ATTRS)[number];

export const authSettings = {
  allowAnonymous: bool({
    default: false,
    doc: 'Allow clients that send no user name (they get no ACL: everything allowed). Without an auth database anonymous access is always on (logged as a warning).',
  }),
  'auth.databaseUrl': pgUrl({
    default: undefined,
    doc: 'PostgreSQL connection string; setting it turns database auth on. Several hosts: postgres://u:p@h1:5432,h2:5432/db. Query parameters sslmode, sslrootcert, sslcert, sslkey, target_session_attrs, connect_timeout, application_name are understood; the auth.* settings win over them.',
  }),
  'auth.hosts': list({
    default: [],
    doc: 'Database hosts (host:port, comma separated, tried in order); overrides the hosts of auth.databaseUrl. Setting it also turns database auth on.',
  }),
  'auth.user': optStr({ default: undefined, doc: 'Database user; overrides the one in auth.databaseUrl.' }),
  'auth.password': optStr({ default: undefined, secret: true, doc: 'Database password; overrides the one in auth.databaseUrl.' }),
  'auth.database': optStr({ default: undefined, doc: 'Database name; overrides the one in auth.databaseUrl.' }),
  'auth.passwordMethod': oneOf({
    default: 'crypt',
    values: ['crypt', 'bcrypt'] as const,
    doc: 'crypt: PostgreSQL verifies with pgcrypto crypt() (VerneMQ default). bcrypt: the hash is fetched and verified here ($2a$, $2b$, $2y$, $2x$).',
  }),
  'auth.sslMode': optOneOf({
    values: SSL_MODES,
    doc: 'TLS to PostgreSQL: disable, require (encrypted, not verified), verify-ca, verify-full (CA and host name). Unset: sslmode of the URL, else disable.',
  }),
  'auth.sslCaFile': optStr({ default: undefined, doc: 'PEM file of the CA(s) that signed the database server certificate (verify-ca, verify-full).' }),
  'auth.sslCertFile': optStr({ default: undefined, doc: 'PEM client certificate for certificate authentication to PostgreSQL.' }),
  'auth.sslKeyFile': optStr({ default: undefined, doc: 'PEM private key of auth.sslCertFile.' }),
  'auth.targetSessionAttrs': optOneOf({
    values: TARGET_SESSION_ATTRS,
    doc: 'Which of several hosts to use: any (first reachable, default), read-write/primary, read-only/standby, prefer-standby. Unset: target_session_attrs of the URL, else any.',
  }),
  'auth.poolSize': int({ default: 10, min: 1, max: 1000, doc: 'Database connections per host.' }),
  'auth.connectTimeoutMs': int({ default: 5000, min: 100, max: 120000, doc: 'Timeout of one database connection attempt.' }),
  'auth.queryTimeoutMs': int({ default: 5000, min: 100, max: 120000, doc: 'Timeout of one auth query (client and server side).' }),
  'auth.hostRetryMs': int({ default: 2000, min: 100, max: 600000, doc: 'A host that failed is skipped for this long, then tried again (and probed in the background).' }),
  'auth.table': str({
    default: 'vmq_auth_acl',
    pattern: /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/,
    doc: 'Credentials table ([schema.]table) with the VerneMQ vmq_auth_acl columns.',
  }),
  'auth.query': optStr({
    default: undefined,
    doc: 'Custom SELECT replacing the VerneMQ one. Parameters: $1 mountpoint, $2 client id, $3 user name, $4 password (crypt method only). Columns: client_id, publish_acl, subscribe_acl, and passhash (bcrypt method).',
  }),
  'auth.cacheTtlMs': int({ default: 30000, min: 0, max: 86400000, doc: 'How long a verified credential is answered from memory without asking the database (0: never).' }),
  'auth.negativeCacheTtlMs': int({ default: 2000, min: 0, max: 600000, doc: 'How long a refused credential is refused from memory (protects the database from retry storms; 0: never).' }),
  'auth.cacheMaxEntries': int({ default: 100000, min: 0, max: 10000000, doc: 'Most credentials kept in the verified-credentials cache (0 disables the cache).' }),
  'auth.staleWhileDownMs': int({
    default: 300000,
    min: 0,
    max: 86400000,
    doc: 'While the database is unreachable, credentials verified less than this long ago are still accepted from the cache (0: refuse everything as unavailable).',
  }),
  'auth.bcryptWorkers': int({ default: 0, min: 0, max: 256, doc: 'Worker threads verifying bcrypt hashes (0: one less than the CPU count, at least 1).' }),
  'auth.bcryptMaxQueue': int({ default: 20000, min: 1, max: 10000000, doc: 'bcrypt verifications waiting for a worker before new ones are answered "server unavailable".' }),
  'auth.healthCheckIntervalMs': int({ default: 5000, min: 100, max: 600000, doc: 'Background probe of the database hosts (readiness, recovery, primary/standby role).' }),
} as const;
