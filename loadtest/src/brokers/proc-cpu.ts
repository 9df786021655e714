/**
 * CPU time of processes from /proc (Linux), to show whether the broker or the load generator was the
 * bottleneck of a run. Returns NaN where /proc is not available.
 */
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second; 100 on every mainstream Linux build (getconf CLK_TCK). */
const clockTicksPerS = 100;

/** User + system CPU seconds consumed so far by the given pids (exited pids count as 0). */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      if (process.platform !== 'linux') return Number.NaN;
      continue;
    }
    // Field 2 (comm) may contain spaces; fields after its closing ')' are space separated.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    ticks += Number(rest[11]) + Number(rest[12]);
  }
  return ticks / clockTicksPerS;
}

/** CPU seconds of this process (the load generator), from process.cpuUsage(). */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
