import { bool } from './setting.js';

/**
 * Auth service settings (issue 4 extends this file): database URL, password method,
 * TLS, hosts, pool, timeouts, cache.
 */
export const authSettings = {
  allowAnonymous: bool({
    default: false,
    doc: 'Allow clients without credentials. Without an auth database anonymous access is always on (logged as a warning).',
  }),
} as const;
