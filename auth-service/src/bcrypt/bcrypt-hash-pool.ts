import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { toPgcryptoCompatible } from './bcrypt-hash.js';
import type { HashAnswer, HashJob } from './bcrypt-hash-worker.js';

/** Passwords per message to a worker: large enough that messaging costs nothing next to bcrypt. */
const CHUNK = 16;

/**
 * Worker threads that bcrypt-hash passwords in bulk (`shardmq user import`), writing `$2a$`
 * hashes (what pgcrypto's crypt() verifies). Used by the CLI process only; close() when done.
 */
export class BcryptHashPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly waiting: Array<() => void> = [];
  private nextId = 1;

  constructor(size = Math.max(1, availableParallelism())) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./bcrypt-hash-worker.js', import.meta.url));
      w.unref();
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Hashes every password (in order), spread over the workers. */
  async hashAll(passwords: readonly string[], cost: number): Promise<string[]> {
    const out: string[] = new Array(passwords.length);
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < passwords.length; i += CHUNK) {
      const start = i;
      const chunk = passwords.slice(i, i + CHUNK);
      jobs.push(this.run(chunk, cost).then((hashes) => hashes.forEach((h, k) => (out[start + k] = toPgcryptoCompatible(h)))));
    }
    await Promise.all(jobs);
    return out;
  }

  private async run(passwords: string[], cost: number): Promise<string[]> {
    let w = this.idle.pop();
    while (!w) {
      await new Promise<void>((r) => this.waiting.push(r));
      w = this.idle.pop();
    }
    const worker = w;
    const id = this.nextId++;
    try {
      return await new Promise<string[]>((resolve, reject) => {
        const onMessage = (a: HashAnswer) => {
          if (a.id !== id) return;
          cleanup();
          if (a.hashes) resolve(a.hashes);
          else reject(new Error(`hashing failed: ${a.error ?? 'unknown error'}`));
        };
        const onError = (err: Error) => {
          cleanup();
          reject(err);
        };
        const cleanup = () => {
          worker.off('message', onMessage);
          worker.off('error', onError);
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.postMessage({ id, passwords, cost } satisfies HashJob);
      });
    } finally {
      this.idle.push(worker);
      this.waiting.shift()?.();
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
