import type { Parameters } from 'fast-check';

/**
 * fast-check parameters for the property tests and fuzzers. Every run uses a fresh seed, and a
 * failure report prints it (`seed: N, path: "..."`). To replay a failure exactly:
 *   SHARDMQ_FUZZ_SEED=N SHARDMQ_FUZZ_PATH="..." npm test -- <file word>
 * SHARDMQ_FUZZ_RUNS multiplies the run count (e.g. 20 for a long local soak).
 */
export function fuzzParams<T>(numRuns: number): Parameters<T> {
  const p: Parameters<T> = { numRuns: Math.max(1, Math.round(numRuns * Number(process.env.SHARDMQ_FUZZ_RUNS ?? '1'))) };
  const seed = process.env.SHARDMQ_FUZZ_SEED;
  if (seed !== undefined && seed !== '') p.seed = Number(seed);
  const path = process.env.SHARDMQ_FUZZ_PATH;
  if (path !== undefined && path !== '') p.path = path;
  return p;
}
