import type { MqttClient } from 'mqtt';
import { sleep, waitFor, type Received } from './mqtt-clients.js';

/**
 * A steady QoS 1 stream for failover tests: numbered payloads, a bounded number in
 * flight, and the set of numbers the broker acknowledged (PUBACK without error).
 */
export class Qos1Stream {
  readonly acked = new Set<number>();
  readonly refused = new Set<number>();
  sent = 0;
  private running = true;
  private readonly done: Promise<void>;

  constructor(pub: MqttClient, topic: string, o: { everyMs: number; maxInflight: number } = { everyMs: 40, maxInflight: 8 }) {
    const inflight = new Set<Promise<void>>();
    this.done = (async () => {
      while (this.running) {
        const n = this.sent++;
        const p = new Promise<void>((resolve) =>
          pub.publish(topic, String(n), { qos: 1 }, (err) => {
            if (err) this.refused.add(n);
            else this.acked.add(n);
            resolve();
          }),
        );
        inflight.add(p);
        void p.then(() => inflight.delete(p));
        if (inflight.size >= o.maxInflight) await Promise.race(inflight);
        await sleep(o.everyMs);
      }
      await Promise.all(inflight);
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  /** Waits until `got` holds every acknowledged number; then checks no number came twice without DUP. */
  async verify(name: string, got: Received[], timeoutMs = 30_000): Promise<void> {
    await waitFor(() => [...this.acked].every((n) => got.some((g) => g.payload.toString() === String(n))), `${name} to receive every acknowledged message`, timeoutMs).catch((err: Error) => {
      const have = new Set(got.map((g) => Number(g.payload.toString())));
      const missing = [...this.acked].filter((n) => !have.has(n));
      throw new Error(`${err.message}: missing ${missing.length} (${missing.slice(0, 10).join(',')})`);
    });
    const firstCopies = new Map<string, number>();
    for (const g of got) {
      if (g.packet.dup) continue;
      const k = g.payload.toString();
      firstCopies.set(k, (firstCopies.get(k) ?? 0) + 1);
    }
    for (const [k, n] of firstCopies) if (n > 1) throw new Error(`${name} got message ${k} ${n} times without DUP`);
  }
}
