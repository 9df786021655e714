/**
 * Bounded retries with full jitter (a random delay up to baseDelayMs * 2^(n-1) before retry n),
 * so many auth-service replicas retrying against one recovering server do not retry in step.
 * Only errors `retriable` accepts are retried; the last error is thrown. Runs on the auth-service.
 */
export async function retryWithJitter<T>(
  fn: (attempt: number) => Promise<T>,
  o: { retries: number; baseDelayMs: number; maxDelayMs?: number; retriable: (e: unknown) => boolean; random?: () => number },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= o.retries || !o.retriable(e)) throw e;
      await new Promise((r) => setTimeout(r, jitterDelayMs(attempt + 1, o.baseDelayMs, o.maxDelayMs ?? 5000, o.random ?? Math.random)));
    }
  }
}

/** Delay before retry `n` (1-based): uniform in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))). Pure. */
export function jitterDelayMs(n: number, baseDelayMs: number, maxDelayMs: number, random: () => number): number {
  const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(n - 1, 30));
  return Math.floor(random() * cap);
}
