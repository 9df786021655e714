import type { Logger } from '../common/src/index.js';
import type { RunningNode } from './start-node.js';

/** After force(), how long the last DISCONNECTs get to leave before the process exits. */
const FORCED_EXIT_GRACE_MS = 500;

/**
 * Waits for SIGTERM/SIGINT, then stops the node gracefully and resolves with the exit code:
 * 0 when the stop finished by itself; 1 when the deadline (node.stopTimeoutMs) passed or a
 * second signal came first, after forcing what was left (every connection closed at once).
 * Kubernetes sends SIGKILL after terminationGracePeriodSeconds: the deadline sits below it,
 * so the process always gets to close its connections itself. Runs in the CLI process only.
 */
export function stopOnSignal(node: RunningNode, stopTimeoutMs: number, log: Logger): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    let deadline: NodeJS.Timeout | undefined;
    const force = (why: string) => {
      clearTimeout(deadline);
      log.warn('graceful stop forced: closing everything now', { why, stopTimeoutMs });
      node.force();
      setTimeout(() => resolve(1), FORCED_EXIT_GRACE_MS);
    };
    const onSignal = (sig: string) => {
      if (stopping) {
        force(`second ${sig}`);
        return;
      }
      stopping = true;
      log.info('signal received, stopping gracefully', { signal: sig, stopTimeoutMs });
      deadline = setTimeout(() => force('deadline passed'), stopTimeoutMs);
      node.stop().then(
        () => {
          clearTimeout(deadline);
          resolve(0);
        },
        (err: Error) => {
          clearTimeout(deadline);
          log.error('graceful stop failed', { err });
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
