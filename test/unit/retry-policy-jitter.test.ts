import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BACKOFF, RETRY, retryDelayMs, type RetryPolicy } from '../../common/src/retry-policy.js';

/** The retry schedules (common/src/retry-policy.ts): growth, cap, jitter, and what they cover. */

const nominal = () => 0;
/** What a policy waits in all between its attempts, without jitter. */
const coveredMs = (p: RetryPolicy) => {
  let sum = 0;
  for (let retry = 1; retry < p.attempts; retry++) sum += retryDelayMs(p, retry, nominal);
  return sum;
};

test('delays double (or grow linearly) from the first delay up to the cap', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((r) => retryDelayMs(RETRY.envelopeToOwner, r, nominal)),
    [50, 100, 200, 400, 800, 1000],
  );
  assert.deepEqual(
    [1, 2, 3, 25].map((r) => retryDelayMs(BACKOFF.sessionLogWrite, r, nominal)),
    [50, 100, 150, 1000],
  );
  assert.equal(retryDelayMs(RETRY.connLostToOwner, 10_000, nominal), 2000, 'a huge retry number stays at the cap');
});

test('jitter only stretches a delay, by at most its ratio, and spreads processes that retry together', () => {
  for (const r of [1, 3, 8]) {
    const base = retryDelayMs(RETRY.connectToOwner, r, nominal);
    const most = retryDelayMs(RETRY.connectToOwner, r, () => 0.999999);
    assert.ok(most >= base && most <= Math.round(base * (1 + RETRY.connectToOwner.jitterRatio)), `retry ${r}: ${most} vs ${base}`);
  }
  // Ten gateways retrying at the same moment do not all wait the same time.
  const delays = new Set(Array.from({ length: 10 }, () => retryDelayMs(RETRY.connectToOwner, 5)));
  assert.ok(delays.size > 1, `every gateway waited ${[...delays].join(', ')} ms`);
});

test('what the schedules cover, as their comments say', () => {
  const connect = coveredMs(RETRY.connectToOwner);
  assert.ok(connect >= 9_000 && connect <= 12_000, `CONNECT to an owner retried for ${connect} ms, about 10 s`);
  const envelope = coveredMs(RETRY.envelopeToOwner);
  assert.ok(envelope >= 10_000 && envelope <= 14_000, `envelopes to an owner retried for ${envelope} ms, about 12 s`);
  const lost = coveredMs(RETRY.connLostToOwner);
  assert.ok(lost >= 9 * 60_000 && lost <= 11 * 60_000, `a lost connection's notice retried for ${lost} ms, about 10 minutes`);
});
