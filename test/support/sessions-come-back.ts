import mqtt, { type IClientOptions } from 'mqtt';
import { collect, waitFor } from './mqtt-clients.js';

/** Runs fn over items, `n` at a time. Test support only. */
export async function eachLimited<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * Reconnects each persistent session (16 at a time) and checks that it comes back whole: Session
 * Present 1, and first the `queued` messages `q0`, `q1`, ... in order. Resolves one line per
 * session that did not (empty: all did). Test support only.
 */
export async function sessionsThatDidNotComeBack(url: string, ids: readonly string[], opts: (id: string) => IClientOptions, queued: number): Promise<string[]> {
  const want = Array.from({ length: queued }, (_, i) => `q${i}`).join(',');
  const problems: string[] = [];
  await eachLimited(ids, 16, async (id) => {
    const c = mqtt.connect(url, opts(id));
    const got = collect(c);
    try {
      const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
        c.once('connect', resolve);
        c.once('error', reject);
      });
      if (!connack.sessionPresent) problems.push(`${id}: Session Present 0`);
      await waitFor(() => got.length >= queued, `${id}: ${queued} queued messages`, 30_000).catch(() => {});
      const texts = got.map((r) => r.payload.toString());
      if (texts.slice(0, queued).join(',') !== want) problems.push(`${id}: got ${texts.join(',')}`);
    } finally {
      await c.endAsync();
    }
  });
  return problems;
}
