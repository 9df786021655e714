/**
 * Kill mode of the fleet scenario: at a set time into the run, kill -9 one broker process, and start it
 * again a set time later (when the caller knows how: a cluster the scenario started itself). What is
 * killed is abstract here (a TierControl of our own cluster, or a pid given on the command line).
 *
 * Who may call: the fleet scenario; cancel() must be called when the run ends, whatever happened.
 */
import { wallClockMs } from '../payload-stamp.js';

export interface KillTarget {
  /** What is killed, for the report, e.g. "gateway 1" or "pid 4242". */
  name: string;
  /** Seconds after telemetry starts. */
  atS: number;
  /** Seconds after the kill to start it again; undefined: it stays dead. */
  restartAfterS?: number;
  /** SIGKILLs the process; resolves with its pid. */
  kill(): Promise<number>;
  /** Starts it again; resolves with the new pid. */
  restart?(): Promise<number>;
}

export interface KillEvent {
  name: string;
  pid?: number;
  /** Seconds after telemetry started. */
  killedAtS?: number;
  restartedAtS?: number;
  newPid?: number;
  error?: string;
}

export interface KillSchedule {
  readonly event: KillEvent;
  /** When the kill happened (wall clock ms), once it has. */
  killedAtMs(): number | undefined;
  /** Stops timers that have not fired; resolves once a kill or restart under way has finished (at most `timeoutMs`). */
  finish(timeoutMs: number): Promise<KillEvent>;
}

export function scheduleKill(target: KillTarget, startMs: number): KillSchedule {
  const event: KillEvent = { name: target.name };
  let killedAt: number | undefined;
  let busy: Promise<void> = Promise.resolve();
  let restartTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const since = () => Math.round(wallClockMs() - startMs) / 1000;
  const fail = (err: unknown) => {
    event.error = (err as Error).message ?? String(err);
  };
  const restart = () => {
    restartTimer = undefined;
    if (closed) return;
    busy = target.restart!().then((pid) => {
      event.newPid = pid;
      event.restartedAtS = since();
    }, fail);
  };
  const killTimer = setTimeout(
    () => {
      busy = target.kill().then((pid) => {
        killedAt = wallClockMs();
        event.pid = pid;
        event.killedAtS = since();
        if (!closed && target.restart && target.restartAfterS !== undefined) restartTimer = setTimeout(restart, target.restartAfterS * 1000);
      }, fail);
    },
    Math.max(0, startMs + target.atS * 1000 - wallClockMs()),
  );
  return {
    event,
    killedAtMs: () => killedAt,
    async finish(timeoutMs) {
      clearTimeout(killTimer);
      const deadline = wallClockMs() + timeoutMs;
      const settle = async () => {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([busy, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - wallClockMs()))))]);
        clearTimeout(timer);
      };
      await settle();
      // A restart still pending is done now: the cluster must be whole for what follows.
      if (restartTimer) {
        clearTimeout(restartTimer);
        restart();
        await settle();
      }
      closed = true;
      return event;
    },
  };
}
