/**
 * Child processes a benchmark starts (brokers, nats-server, shardmq tiers), with guaranteed cleanup:
 * every group registers itself module-wide so signal and exit handlers can kill whatever is still alive,
 * even when a scenario threw half-way. Only processes spawned here are ever signalled (by pid).
 *
 * Who may call: the benchmark driver (scripts/bench.mjs) and tests that start brokers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /** The last lines the process wrote to stdout/stderr (bounded), for error messages. */
  tail(): string;
}

const tailLines = 40;
const liveGroups = new Set<ProcessGroup>();
const liveTempDirs = new Set<string>();

/** A private temp dir, removed by removeTempDir() or, on any exit path, by the group cleanup functions. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  liveTempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  liveTempDirs.delete(dir);
}

function removeAllTempDirs(): void {
  for (const d of [...liveTempDirs]) removeTempDir(d);
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Also append everything the process writes (stdout and stderr) to this file, for a post-mortem. */
  logFile?: string;
}

interface SpawnRecipe {
  command: string;
  args: readonly string[];
  opts: SpawnOptions;
}

export class ProcessGroup {
  private readonly procs: ManagedProcess[] = [];
  /** How each process was started, so a killed one can be started again the same way. */
  private readonly recipes = new Map<ManagedProcess, SpawnRecipe>();
  /** Processes killed on purpose (kill mode of a load test): their exit is not a broker failure. */
  private readonly killedOnPurpose = new Set<ManagedProcess>();

  constructor(readonly label: string) {
    liveGroups.add(this);
  }

  spawn(name: string, command: string, args: readonly string[], opts: SpawnOptions = {}): ManagedProcess {
    const child = spawn(command, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let partial = '';
    const collect = (chunk: Buffer) => {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const l of parts) {
        lines.push(l);
        if (lines.length > tailLines) lines.shift(); // bounded: at most tailLines + 1 entries
      }
      if (partial.length > 4096) partial = partial.slice(-4096);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    if (opts.logFile !== undefined) {
      const file = createWriteStream(opts.logFile, { flags: 'a' });
      child.stdout?.pipe(file, { end: false });
      child.stderr?.pipe(file, { end: false });
      child.once('close', () => file.end());
    }
    let done = false;
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => {
        done = true;
        resolve(code);
      });
      child.once('error', (err) => {
        done = true;
        lines.push(`spawn failed: ${err.message}`);
        resolve(-1);
      });
    });
    const proc: ManagedProcess = {
      name,
      child,
      exited,
      hasExited: () => done,
      tail: () => [...lines, partial].filter((l) => l.length > 0).join('\n'),
    };
    this.procs.push(proc);
    this.recipes.set(proc, { command, args, opts });
    return proc;
  }

  /** SIGKILLs one process of this group on purpose and waits for its exit; firstExited() ignores it from now on. */
  async killOnPurpose(proc: ManagedProcess): Promise<void> {
    this.killedOnPurpose.add(proc);
    if (!proc.hasExited()) proc.child.kill('SIGKILL');
    await proc.exited;
  }

  /** Starts a process again with the name, command, arguments and environment it was first started with. */
  respawn(proc: ManagedProcess): ManagedProcess {
    const r = this.recipes.get(proc);
    if (!r) throw new Error(`${proc.name} was not started by this group`);
    return this.spawn(proc.name, r.command, r.args, r.opts);
  }

  pids(): number[] {
    return this.procs.filter((p) => !p.hasExited() && p.child.pid !== undefined).map((p) => p.child.pid!);
  }

  /** The first process that has exited, if any (a broker dying during a run). */
  firstExited(): ManagedProcess | undefined {
    return this.procs.find((p) => p.hasExited() && !this.killedOnPurpose.has(p));
  }

  /**
   * Stops processes in reverse start order (front tiers before the bus they depend on): SIGTERM, then
   * SIGKILL for whatever is still alive after `graceMs`.
   */
  async stopAll(graceMs = 5000): Promise<void> {
    for (const p of [...this.procs].reverse()) {
      if (p.hasExited()) continue;
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
      await p.exited;
      clearTimeout(timer);
    }
    liveGroups.delete(this);
  }

  /** Synchronous last resort (process 'exit' handler): SIGKILL everything still alive. */
  killNow(): void {
    for (const p of this.procs) if (!p.hasExited()) p.child.kill('SIGKILL');
  }
}

/** Stops every group that has not been stopped yet, then removes the temp dirs made here. */
export async function stopAllGroups(graceMs = 3000): Promise<void> {
  await Promise.all([...liveGroups].map((g) => g.stopAll(graceMs)));
  removeAllTempDirs();
}

/**
 * SIGKILLs every process of every live group and removes the temp dirs; synchronous, so it is safe
 * inside a process 'exit' handler (a killed process's files may be removed while it dies: harmless).
 */
export function killAllGroupsNow(): void {
  for (const g of liveGroups) g.killNow();
  try {
    removeAllTempDirs();
  } catch {
    // best effort on the way out
  }
}
