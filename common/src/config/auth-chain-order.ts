import { AUTH_BACKENDS, type AuthBackendName } from './settings-auth-chain.js';
import { ConfigError } from './config-error.js';
import type { Config } from './settings.js';

export class ChainConfigError extends ConfigError {}

/**
 * The backends to ask, in order, from `auth.chain` and which backends have settings (a database
 * URL or hosts; auth.http.url; a JWT key source). Unset chain: every configured backend in the
 * order jwt, http, postgres (JWT first because it ignores what is not a JWT, PostgreSQL last
 * because it answers every CONNECT with a user name). A chain that names an unconfigured backend,
 * or leaves a configured one out, is refused: both are configuration mistakes that would
 * otherwise silently change who can connect. Pure; run when the config is loaded (so `config check`
 * reports it) and again by the auth-service when it builds the chain.
 */
export function chainOrder(chain: readonly AuthBackendName[], configured: Readonly<Record<AuthBackendName, boolean>>): AuthBackendName[] {
  if (chain.length === 0) return AUTH_BACKENDS.filter((b) => configured[b]);
  for (const b of chain) {
    if (!configured[b]) throw new ChainConfigError(`setting auth.chain (SHARDMQ_AUTH_CHAIN): names "${b}" but ${SETS[b]} is not set`);
  }
  for (const b of AUTH_BACKENDS) {
    if (configured[b] && !chain.includes(b)) {
      throw new ChainConfigError(`setting auth.chain (SHARDMQ_AUTH_CHAIN): ${SETS[b]} is set but "${b}" is not in the chain (${chain.join(',')})`);
    }
  }
  return [...chain];
}

const SETS: Record<AuthBackendName, string> = {
  jwt: 'auth.jwt.secretFile / auth.jwt.publicKeyFile / auth.jwt.jwksUrl',
  http: 'auth.http.url',
  postgres: 'auth.databaseUrl / auth.hosts',
};

/** Which backends have settings: a database URL or hosts; auth.http.url; a JWT key source. */
export function configuredBackends(cfg: Config): Record<AuthBackendName, boolean> {
  return {
    jwt: cfg['auth.jwt.secretFile'] !== undefined || cfg['auth.jwt.publicKeyFile'] !== undefined || cfg['auth.jwt.jwksUrl'] !== undefined,
    http: cfg['auth.http.url'] !== undefined,
    postgres: cfg['auth.databaseUrl'] !== undefined || cfg['auth.hosts'].length > 0,
  };
}
