import { readFileSync } from 'node:fs';

/**
 * Which new connections a gateway takes: at most mqtt.maxConnections open, at most
 * mqtt.maxPendingConnects that have not completed CONNECT. A refused socket is closed before
 * anything of it is read, so a storm of idle or half-open connections costs one accept each.
 * Pure apart from openFileLimit; the gateway service applies the verdict.
 */

export type Refusal = 'max_connections' | 'pending_connects';

/** The soft open-file limit of this process (Linux /proc/self/limits), undefined when unknown or unlimited. */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The connection cap: the setting, or (0) the open-file limit minus a reserve of a tenth, at
 * least 32, for the bus, the HTTP endpoint, logs and files. Refusing at the cap means the
 * process never meets EMFILE through client connections, so /metrics and the bus keep working.
 */
export function connectionCap(maxConnections: number, fileLimit: number | undefined): number {
  if (maxConnections > 0) return maxConnections;
  if (fileLimit === undefined) return Number.POSITIVE_INFINITY;
  return Math.max(1, fileLimit - Math.max(32, Math.floor(fileLimit / 10)));
}

/** Why a new connection is refused, or undefined to take it. `open` and `pending` exclude it. */
export function admission(open: number, pending: number, cap: number, maxPending: number): Refusal | undefined {
  if (open >= cap) return 'max_connections';
  if (pending >= maxPending) return 'pending_connects';
  return undefined;
}
