import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { RingQueue, type Logger } from '../../../common/src/index.js';
import { prepareBcryptHash } from './bcrypt-hash.js';
import type { VerifyAnswer, VerifyJob } from './bcrypt-worker.js';

/**
 * A fixed set of worker threads verifying bcrypt hashes, fed from one bounded FIFO queue.
 * Workers start on first use (the crypt method never needs them); a worker that dies is replaced
 * and its job answered with an error. Owned by the auth-service; call from its event loop only.
 */

export class BcryptBusyError extends Error {
  readonly code = 'BCRYPT_BUSY';
  constructor(readonly maxQueue: number) {
    super(`more than ${maxQueue} bcrypt verifications waiting`);
    this.name = 'BcryptBusyError';
  }
}

export interface VerifyResult {
  match: boolean;
  /** Why a hash could not be checked (malformed hash, unsupported variant); never the password. */
  reason?: string;
}

interface Pending {
  job: VerifyJob;
  resolve: (r: VerifyResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy?: Pending;
}

export interface BcryptPoolOptions {
  /** 0: one less than the CPU count, at least 1. */
  workers: number;
  maxQueue: number;
  log: Logger;
  /** Where the worker script lives; default: next to this file. */
  workerUrl?: URL;
}

export class BcryptPool {
  private readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly queue = new RingQueue<Pending>();
  private nextId = 1;
  private closed = false;
  private readonly workerUrl: URL;

  constructor(private readonly opts: BcryptPoolOptions) {
    this.size = opts.workers > 0 ? opts.workers : Math.max(1, availableParallelism() - 1);
    this.workerUrl = opts.workerUrl ?? new URL('./bcrypt-worker.js', import.meta.url);
  }

  get workerCount(): number {
    return this.size;
  }

  /** Jobs waiting for a worker (not counting those running). */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Verifies `password` against a `$2a$`/`$2b$`/`$2y$`/`$2x$` hash in a worker thread.
   * Resolves { match: false, reason } for hashes that cannot be verified; rejects with
   * BcryptBusyError when the queue is full, or Error after close().
   */
  verify(password: string, hash: string): Promise<VerifyResult> {
    if (this.closed) return Promise.reject(new Error('bcrypt pool closed'));
    const prepared = prepareBcryptHash(hash, password);
    if (!prepared.ok) return Promise.resolve({ match: false, reason: prepared.reason });
    if (this.queue.length >= this.opts.maxQueue) return Promise.reject(new BcryptBusyError(this.opts.maxQueue));
    return new Promise<VerifyResult>((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, password, hash: prepared.hash }, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (let p = this.queue.shift(); p; p = this.queue.shift()) p.reject(new Error('bcrypt pool closed'));
    const slots = this.slots.splice(0);
    for (const s of slots) s.busy?.reject(new Error('bcrypt pool closed'));
    await Promise.all(slots.map((s) => s.worker.terminate().catch(() => undefined)));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.busy === undefined);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = this.spawn();
      }
      const p = this.queue.shift()!;
      slot.busy = p;
      slot.worker.postMessage(p.job);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(this.workerUrl);
    worker.unref(); // an idle pool never keeps the process alive
    const slot: Slot = { worker };
    worker.on('message', (a: VerifyAnswer) => {
      const p = slot.busy;
      slot.busy = undefined;
      if (p && p.job.id === a.id) p.resolve(a.error ? { match: false, reason: `bcrypt: ${a.error}` } : { match: a.match });
      this.pump();
    });
    const fail = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i < 0) return;
      this.slots.splice(i, 1);
      if (!this.closed) this.opts.log.error('bcrypt worker died; replacing it', { error: err.message });
      slot.busy?.reject(err);
      slot.busy = undefined;
      if (!this.closed) this.pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`bcrypt worker exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }
}
