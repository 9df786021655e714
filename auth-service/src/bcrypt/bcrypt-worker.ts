import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

/**
 * Worker thread body: verifies one bcrypt hash per message, so the CPU-heavy work (4.5 ms at
 * cost 6, 72 ms at cost 10) never runs on the auth-service event loop. Loaded by
 * bcrypt-pool.ts from its compiled location (dist/auth-service/src/bcrypt/bcrypt-worker.js).
 */

export interface VerifyJob {
  id: number;
  password: string;
  hash: string;
}

export interface VerifyAnswer {
  id: number;
  match: boolean;
  error?: string;
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (job: VerifyJob) => {
    let answer: VerifyAnswer;
    try {
      answer = { id: job.id, match: bcrypt.compareSync(job.password, job.hash) };
    } catch (e) {
      answer = { id: job.id, match: false, error: (e as Error).message };
    }
    port.postMessage(answer);
  });
}
