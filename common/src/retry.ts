import { NoRespondersError, RequestTimeoutError } from './bus/bus.js';

/**
 * Retries a bus request with exponential backoff while nobody answers (a tier restarting,
 * a shard moving). Other errors are not retried.
 */
export async function retrying<T>(fn: () => Promise<T>, o: { attempts: number; baseDelayMs: number; maxDelayMs?: number }): Promise<T> {
  let delay = o.baseDelayMs;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const retriable = err instanceof NoRespondersError || err instanceof RequestTimeoutError;
      if (!retriable || i >= o.attempts) throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, o.maxDelayMs ?? 2000);
    }
  }
}
