import type { Logger } from '../../../common/src/index.js';

/** Distinct (mountpoint, user) pairs whose ACL warnings were logged; bounded so a storm cannot grow it. */
const MAX_WARNED = 10000;

/**
 * Logs dropped ACL entries (compileAcl warnings) once per user and mountpoint, whichever backend
 * supplied the ACL (a database row, an HTTP answer, JWT claims). Runs on the auth-service.
 */
export class AclWarnings {
  private readonly warned = new Set<string>();

  constructor(private readonly log: Logger) {}

  once(mountpoint: string, username: string, warnings: readonly string[], backend = 'postgres'): void {
    if (warnings.length === 0) return;
    const k = `${backend}\u0000${mountpoint}\u0000${username}`;
    if (this.warned.has(k)) return;
    if (this.warned.size >= MAX_WARNED) this.warned.clear();
    this.warned.add(k);
    this.log.warn('ACL entries ignored for user', { backend, mountpoint, username, warnings });
  }
}
