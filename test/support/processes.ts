import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, statSync, type WriteStream } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Child processes for tests: spawn, wait for a ready line, keep the recent output for
 * diagnostics, stop with SIGTERM then SIGKILL. Every process is killed when the test process
 * exits, and the output of all of them is printed to stderr when the test file failed (or
 * streamed live with SHARDMQ_TEST_VERBOSE=1). With SHARDMQ_TEST_LOG_DIR=<dir>, every line of every
 * process is also written, with the time it arrived, to `<dir>/<name>-<pid>.log`: the dump keeps
 * only the last lines and only of a failed file, while an intermittent e2e failure (or a todo test
 * that passes the file) needs the whole story of every process. Who may call: tests and test helpers only.
 */

export interface SpawnProcessOptions {
  /** Merged over process.env; a key set to undefined removes that variable. */
  env?: NodeJS.ProcessEnv;
  /** Short label for messages and verbose output, e.g. 'mosquitto' or 'gateway-1'. */
  name: string;
  /** Resolve once a stdout or stderr line matches; without it, resolve as soon as spawned. */
  readyLine?: RegExp;
  /** How long to wait for readyLine before killing the process and rejecting. */
  readyTimeoutMs?: number;
  cwd?: string;
}

export interface ManagedProcess {
  readonly pid: number;
  readonly name: string;
  /** The last outputLines lines of stdout and stderr, interleaved as received. */
  output(): string;
  /**
   * Resolves with the first line matching `re` that no earlier waitForLine (or the readyLine)
   * returned, looking at the retained lines first and then at new ones. Rejects with the
   * output when the process exits first or timeoutMs passes.
   */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends a signal (default SIGTERM) if the process still runs; does not wait. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, SIGKILL after timeoutMs, then resolves with the exit code (null if signalled). */
  stop(timeoutMs?: number): Promise<number | null>;
  /** Resolves with the exit code (null if ended by a signal or never started); never rejects. */
  readonly exited: Promise<number | null>;
  /** True until the process exits (or if it never started: false). */
  readonly running: boolean;
  /** Calls `listener` with every complete line printed from now on (stdout and stderr). */
  onLine(listener: (line: string) => void): void;
}

/** Lines kept per process for diagnostics. */
export const outputLines = 200;
const defaultReadyTimeoutMs = 15_000;
const defaultWaitTimeoutMs = 10_000;
const defaultStopTimeoutMs = 5_000;
/** After 'exit', how long to wait for the pipes to drain ('close') when a grandchild keeps them open. */
const pipeDrainMs = 200;
/** Processes whose output is dumped when a test file fails (the most recent ones). */
const maxDumpedProcesses = 20;

/** Directories Debian keeps daemons in, missing from a normal user's PATH. */
const sbinDirs = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

const verbose = process.env.SHARDMQ_TEST_VERBOSE === '1';
const logDir = process.env.SHARDMQ_TEST_LOG_DIR || undefined;

/** The full-output file of a process, when SHARDMQ_TEST_LOG_DIR is set (also for helpers that spawn on their own). */
export function openLogFile(name: string, pid: number): WriteStream | undefined {
  if (!logDir) return undefined;
  mkdirSync(logDir, { recursive: true });
  return createWriteStream(join(logDir, `${name.replace(/[^\w.-]/g, '_')}-${pid}.log`), { flags: 'a' });
}

/** Children still running: killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
/** Every process started by this test process, for the failure dump. */
const started: ProcessImpl[] = [];
let hooksInstalled = false;

/**
 * Absolute path of an executable on PATH or in the sbin dirs (nats-server and mosquitto live in
 * /usr/sbin on Debian), or undefined.
 */
export function findExecutable(name: string, pathVar = process.env.PATH): string | undefined {
  if (name.includes('/')) return name;
  const dirs = [...(pathVar ?? '').split(delimiter), ...sbinDirs];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not in this dir
    }
  }
  return undefined;
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    live.clear();
  };
  process.on('exit', (code) => {
    // The test runner sets a non-zero exit code when a test in this file failed: show what
    // the processes said, since the assertion alone rarely explains an e2e failure.
    if (code !== 0 && !verbose) dumpOutputs();
    killAll();
  });
  // A fatal signal skips 'exit': kill the children, then die of the same signal unless
  // another handler takes care of it.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAll();
      process.removeListener(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

function dumpOutputs(): void {
  for (const p of started.slice(-maxDumpedProcesses)) {
    const out = p.output();
    process.stderr.write(`--- ${p.describe()}: last ${outputLines} lines of output ---\n${out}${out ? '\n' : ''}--- end of ${p.name} ---\n`);
  }
}

interface Line {
  seq: number;
  text: string;
}

interface Waiter {
  re: RegExp;
  resolve: (line: string) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

class ProcessImpl implements ManagedProcess {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  private readonly lines: Line[] = [];
  private nextSeq = 0;
  /** Seqs of retained lines already returned by waitForLine. */
  private readonly consumed = new Set<number>();
  private readonly waiters = new Set<Waiter>();
  private readonly lineListeners: ((line: string) => void)[] = [];
  private readonly partial = { stdout: '', stderr: '' };
  private done = false;
  private exitCode: number | null = null;
  private exitSignal: NodeJS.Signals | null = null;
  private spawnError: Error | undefined;
  private resolveExited!: (code: number | null) => void;
  private readonly logFile: WriteStream | undefined;

  constructor(
    readonly name: string,
    private readonly cmd: string,
    private readonly child: ChildProcess,
  ) {
    this.pid = child.pid ?? -1;
    this.logFile = this.pid === -1 ? undefined : openLogFile(name, this.pid);
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    for (const stream of ['stdout', 'stderr'] as const) {
      const s = child[stream]!;
      s.setEncoding('utf8');
      s.on('data', (chunk: string) => this.onData(stream, chunk));
    }
    child.once('error', (err) => {
      // Spawn failures (ENOENT, EACCES) come here with no 'exit'.
      if (this.pid === -1) {
        this.spawnError = err;
        this.finish(null, null);
      }
    });
    child.once('exit', (code, signal) => {
      live.delete(child);
      this.exitCode = code;
      this.exitSignal = signal;
      // 'close' follows once the pipes are drained; a grandchild holding them open must not
      // keep `exited` pending forever.
      setTimeout(() => this.finish(code, signal), pipeDrainMs).unref();
    });
    child.once('close', (code, signal) => this.finish(code, signal));
  }

  /** Why the command could not be started (ENOENT, EACCES), if it could not. */
  get startError(): Error | undefined {
    return this.spawnError;
  }

  get running(): boolean {
    return !this.done && this.child.exitCode === null && this.child.signalCode === null && this.pid !== -1;
  }

  /** 'running', 'exited with code 3', 'exited with signal SIGKILL' or 'failed to start: ...'. */
  state(): string {
    if (this.spawnError) return `failed to start: ${this.spawnError.message}`;
    if (this.exitSignal) return `exited with signal ${this.exitSignal}`;
    if (this.done || this.exitCode !== null) return `exited with code ${this.exitCode}`;
    return 'running';
  }

  describe(): string {
    return `${this.name} (${this.cmd}, pid ${this.pid}, ${this.state()})`;
  }

  output(): string {
    return this.lines.map((l) => l.text).join('\n');
  }

  waitForLine(re: RegExp, timeoutMs = defaultWaitTimeoutMs): Promise<string> {
    for (const l of this.lines) {
      if (!this.consumed.has(l.seq) && matches(re, l.text)) {
        this.consumed.add(l.seq);
        return Promise.resolve(l.text);
      }
    }
    if (this.done) return Promise.reject(this.failure(`${this.name} ${this.state()} before printing a line matching ${re}`));
    return new Promise<string>((resolve, reject) => {
      const waiter: Waiter = {
        re,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(this.failure(`${this.name} printed no line matching ${re} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.running) this.child.kill(signal);
  }

  async stop(timeoutMs = defaultStopTimeoutMs): Promise<number | null> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.kill('SIGKILL');
        resolve();
      }, timeoutMs);
    });
    await Promise.race([this.exited, forced]);
    clearTimeout(timer);
    return this.exited;
  }

  /** An Error whose message carries the retained output. */
  failure(message: string): Error {
    const out = this.output();
    return new Error(`${message}\n--- last output of ${this.name} ---\n${out || '(no output)'}\n--- end ---`);
  }

  private onData(stream: 'stdout' | 'stderr', chunk: string): void {
    const parts = (this.partial[stream] + chunk).split('\n');
    this.partial[stream] = parts.pop() ?? '';
    for (const p of parts) this.addLine(p.endsWith('\r') ? p.slice(0, -1) : p);
  }

  onLine(listener: (line: string) => void): void {
    this.lineListeners.push(listener);
  }

  private addLine(text: string): void {
    for (const l of this.lineListeners) l(text);
    const seq = this.nextSeq++;
    if (verbose) process.stderr.write(`[${this.name}] ${text}\n`);
    this.logFile?.write(`${new Date().toISOString()} ${text}\n`);
    this.lines.push({ seq, text });
    if (this.lines.length > outputLines) this.consumed.delete(this.lines.shift()!.seq);
    for (const w of this.waiters) {
      if (matches(w.re, text)) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        this.consumed.add(seq); // one waiter per line; the line counts as returned
        w.resolve(text);
        return;
      }
    }
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.done) return;
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) this.addLine(this.partial[stream]);
      this.partial[stream] = '';
    }
    this.done = true;
    this.exitCode ??= code;
    this.exitSignal ??= signal;
    live.delete(this.child);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(this.failure(`${this.name} ${this.state()} before printing a line matching ${w.re}`));
    }
    this.waiters.clear();
    this.logFile?.end();
    this.resolveExited(code);
  }
}

function matches(re: RegExp, text: string): boolean {
  re.lastIndex = 0; // a /g or /y regex keeps state between test() calls
  return re.test(text);
}

/**
 * Spawns `cmd args` with stdout and stderr captured. Resolves once a line matches
 * opts.readyLine (or at once without one). Rejects, with the captured output in the message,
 * when the command cannot be started, exits before the ready line, or readyTimeoutMs passes
 * (the process is killed then). Who may call: tests and test helpers only.
 */
export async function spawnProcess(cmd: string, args: string[], opts: SpawnProcessOptions): Promise<ManagedProcess> {
  installHooks();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const resolved = findExecutable(cmd, env.PATH) ?? cmd;
  const child = spawn(resolved, args, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) live.add(child);
  const proc = new ProcessImpl(opts.name, [cmd, ...args].join(' '), child);
  started.push(proc);
  if (started.length > maxDumpedProcesses * 5) started.splice(0, started.length - maxDumpedProcesses);

  if (proc.pid === -1) {
    await proc.exited; // the 'error' event has fired or is about to
    const err = proc.startError as NodeJS.ErrnoException | undefined;
    const why = err?.code === 'ENOENT' ? `not found on PATH or in ${sbinDirs.join(', ')}` : (err?.message ?? 'unknown error');
    throw new Error(`could not start ${opts.name}: \`${cmd}\` ${why}`);
  }
  if (!opts.readyLine) return proc;
  try {
    await proc.waitForLine(opts.readyLine, opts.readyTimeoutMs ?? defaultReadyTimeoutMs);
  } catch (err) {
    proc.kill('SIGKILL');
    await proc.exited;
    throw err;
  }
  return proc;
}
