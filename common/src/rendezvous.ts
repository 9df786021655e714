import { fnv1a32 } from './shard.js';

/**
 * Rendezvous (highest random weight) hashing: every process computes the same owner for a
 * shard from the same member list, and adding or removing one member moves only about
 * 1/N of the shards. Pure; any tier may call it.
 */

/** Murmur3's finalizer: spreads FNV's weak low bits so the maximum is fair. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function rendezvousScore(member: string, shard: number): number {
  return mix32(fnv1a32(member) ^ mix32(shard + 0x9e3779b9));
}

/** The member that should own `shard`; ties broken by name. undefined when no members. */
export function rendezvousOwner(members: readonly string[], shard: number): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const m of members) {
    const sc = rendezvousScore(m, shard);
    if (sc > bestScore || (sc === bestScore && best !== undefined && m < best)) {
      best = m;
      bestScore = sc;
    }
  }
  return best;
}
