import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

/**
 * Worker thread body for bulk hashing (`shardmq user import`): hashes a chunk of passwords per
 * message, so the CLI's event loop keeps writing batches and printing progress while every
 * core hashes. Loaded from its compiled location next to this file.
 */

export interface HashJob {
  id: number;
  passwords: string[];
  cost: number;
}

export interface HashAnswer {
  id: number;
  hashes?: string[];
  error?: string;
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (job: HashJob) => {
    let answer: HashAnswer;
    try {
      answer = { id: job.id, hashes: job.passwords.map((p) => bcrypt.hashSync(p, job.cost)) };
    } catch (e) {
      answer = { id: job.id, error: (e as Error).message };
    }
    port.postMessage(answer);
  });
}
