import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** dist/bin/shardmq.js */
export const CLI = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'shardmq.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout + stderr */
  out: string;
}

/**
 * Runs the real CLI with only PATH and `env` in its environment; resolves with the exit code and
 * output (never rejects). Who may call: tests only.
 */
export async function shardmqCli(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<CliResult> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: timeoutMs });
    return { code: 0, stdout: r.stdout, stderr: r.stderr, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    const stdout = err.stdout ?? '';
    const stderr = err.stderr ?? '';
    return { code: typeof err.code === 'number' ? err.code : -1, stdout, stderr, out: stdout + stderr };
  }
}
