#!/usr/bin/env node
// The project's test command (`npm test`, which CI runs through .ci/run).
//
// Plain Node ESM with no dependencies: it must work on a fresh clone before node_modules exist.
// Steps: check/install the system binaries the tests need, `npm ci` when node_modules is missing,
// `tsc -b`, remove stale compiled tests, run every dist/test/**/*.test.js with `node --test` in a
// private TMPDIR and its own process group, kill whatever the tests left running, print totals.
//
// Usage: npm test [-- <word>... ] [-- --test-name-pattern=<re> ...]
//   <word>      run only test files whose path under dist/test contains the word (any of them)
//   --test-*    passed through to `node --test` (e.g. --test-name-pattern, --test-only)
// On a node older than 22 it installs Node 24 from npm (scripts/node24.mjs) and runs itself again
// with it, so the build and every test run on Node 24.
// See docs/testing.md.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { helmForTests } from './helm-binary.mjs';
import { nodeForProject } from './node24.mjs';

const startedAt = Date.now();
let tmpDir = '';
let currentGroup = 0; // pid (= process group id) of the running `node --test`, 0 when none
let interrupted = false;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST_TEST = join(ROOT, 'dist', 'test');
const SRC_TEST = join(ROOT, 'test');

// Budgets. The suite must finish in 15 minutes on 2 cores; the watchdog only exists so a hung
// run fails instead of blocking CI forever.
const suiteBudgetMs = 15 * 60_000;
const runTimeoutMs = envInt('SHARDMQ_TEST_RUN_TIMEOUT_MS', 25 * 60_000);
// Node 20 applies --test-timeout to each test file as a whole (not to each test in it).
const fileTimeoutMs = envInt('SHARDMQ_TEST_FILE_TIMEOUT_MS', 5 * 60_000);
const groupKillGraceMs = 3_000;

// Unit files are cheap (one short-lived node process each, mostly waiting on startup I/O), so
// run more of them than there are cores. Other files (e2e) each start nats-server, postgres or
// broker processes: one per core keeps them from starving each other's timers on 2 cores.
const cores = availableParallelism();
const unitConcurrency = envInt('SHARDMQ_TEST_UNIT_CONCURRENCY', Math.max(2, cores * 2));
const e2eConcurrency = envInt('SHARDMQ_TEST_E2E_CONCURRENCY', Math.max(1, cores));

// Binaries the tests start, and the Debian package providing each.
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
/** Test files whose path holds this word render the Helm chart (scripts/helm-binary.mjs). */
const HELM_TEST_WORD = 'helm-chart';
const REQUIRED_BINARIES = [
  { bin: 'nats-server', pkg: 'nats-server' },
  { bin: 'mosquitto', pkg: 'mosquitto' },
  { bin: 'mosquitto_pub', pkg: 'mosquitto-clients' },
  { bin: 'mosquitto_sub', pkg: 'mosquitto-clients' },
  { bin: 'openssl', pkg: 'openssl' },
];

function envInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) fail(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

function log(msg) {
  process.stdout.write(`[test] ${msg}\n`);
}

function fail(msg, code = 1) {
  process.stderr.write(`[test] error: ${msg}\n`);
  cleanup();
  process.exit(code);
}

function usage() {
  process.stdout.write(`usage: npm test [-- <word>...] [-- --test-<node option>...]
  <word>            run only test files whose path under dist/test contains <word>
  --test-...        passed to node --test (e.g. --test-name-pattern="reconnect")
env: SHARDMQ_TEST_VERBOSE=1 (stream child process output), SHARDMQ_TEST_SKIP_PROVISION=1,
     SHARDMQ_TEST_FILE_TIMEOUT_MS, SHARDMQ_TEST_RUN_TIMEOUT_MS,
     SHARDMQ_TEST_UNIT_CONCURRENCY, SHARDMQ_TEST_E2E_CONCURRENCY (see docs/testing.md)
`);
}

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const filters = [];
  const nodeArgs = [];
  for (const a of argv) {
    if (a === '-h' || a === '--help') {
      usage();
      process.exit(0);
    } else if (a.startsWith('--test-')) {
      if (/^--test-(concurrency|reporter|reporter-destination|force-exit)(=|$)/.test(a)) {
        fail(`${a} is set by scripts/test.mjs; use the SHARDMQ_TEST_* env vars instead`);
      }
      nodeArgs.push(a);
    } else if (a.startsWith('-')) {
      usage();
      fail(`unknown option ${a}`);
    } else {
      filters.push(a);
    }
  }
  return { filters, nodeArgs };
}

// ---------------------------------------------------------------- provisioning

/** Absolute path of `bin` on PATH or in the sbin dirs (not on a non-root user's PATH on Debian). */
function findBinary(bin) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...SBIN_DIRS];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, bin);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Newest /usr/lib/postgresql/<ver>/bin that has the server binaries and pgcrypto, or undefined. */
function findPostgresBinDir() {
  let versions = [];
  try {
    versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v));
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = `/usr/lib/postgresql/${v}/bin`;
    const complete = ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(bin, b))) && existsSync(`/usr/share/postgresql/${v}/extension/pgcrypto.control`);
    if (complete) return bin;
  }
  return undefined;
}

function missingPackages() {
  const pkgs = new Set();
  for (const { bin, pkg } of REQUIRED_BINARIES) if (!findBinary(bin)) pkgs.add(pkg);
  if (!findPostgresBinDir()) pkgs.add('postgresql');
  return [...pkgs];
}

function provision() {
  if (process.env.SHARDMQ_TEST_SKIP_PROVISION === '1') {
    log('provisioning skipped (SHARDMQ_TEST_SKIP_PROVISION=1); tests needing missing binaries will fail');
    return;
  }
  let missing = missingPackages();
  if (missing.length === 0) return;
  const cmd = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    fail(`the tests need Debian package(s) not installed here: ${missing.join(', ')}.\n` + `        Install them as root:  sudo sh -c '${cmd}'`);
  }
  log(`installing missing Debian package(s): ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', ...missing]]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (r.status !== 0) fail(`apt-get ${args.join(' ')} failed (exit ${r.status ?? r.signal}); run it by hand: ${cmd}`);
  }
  missing = missingPackages();
  if (missing.length > 0) fail(`still missing after apt-get install: ${missing.join(', ')}`);
}

// ---------------------------------------------------------------- install and build

function npmCommand() {
  // Under `npm test`, npm tells us which npm runs us; reuse it rather than whatever is on PATH.
  const cli = process.env.npm_execpath;
  return cli && cli.endsWith('.js') ? [process.execPath, [cli]] : ['npm', []];
}

function installModules() {
  if (existsSync(join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'))) return;
  log('node_modules missing: npm ci');
  const [cmd, pre] = npmCommand();
  const r = spawnSync(cmd, [...pre, 'ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) fail(`npm ci failed (exit ${r.status ?? r.signal})`);
}

function build() {
  log('build: tsc -b');
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-b'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) fail(`build failed (tsc -b exit ${r.status ?? r.signal})`);
}

/**
 * Formatter and linter (Biome, biome.json): the whole tree must be formatted and lint-clean.
 * Runs with the full suite (not for `npm test -- <word>`); fix with `npx biome check --write .`.
 */
function lintAndFormat() {
  log('lint: biome ci (format and lint)');
  const bin = join(ROOT, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');
  const r = spawnSync(process.execPath, [bin, 'ci', '--colors=off', '.'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) fail(`formatting or lint errors (biome ci exit ${r.status ?? r.signal}): run npx biome check --write . and fix what remains`);
}

/** Deletes compiled test outputs whose test/**.ts source is gone (tsc -b leaves them behind). */
function removeStaleOutputs(dir = DIST_TEST) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      removeStaleOutputs(p);
      if (readdirSync(p).length === 0) rmdirSync(p);
      continue;
    }
    const m = /^(.*)\.(js|js\.map|d\.ts|d\.ts\.map)$/.exec(e.name);
    if (!m) continue;
    const srcBase = join(SRC_TEST, relative(DIST_TEST, dir), m[1]);
    if (!existsSync(`${srcBase}.ts`) && !existsSync(`${srcBase}.mts`)) {
      rmSync(p, { force: true });
      if (e.name.endsWith('.test.js')) log(`removed stale ${relative(ROOT, p)} (its source is gone)`);
    }
  }
}

function findTestFiles(dir = DIST_TEST, out = []) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) findTestFiles(p, out);
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

// ---------------------------------------------------------------- running

function testEnv(pgBinDir) {
  // sbin dirs: nats-server and mosquitto live in /usr/sbin on Debian, off a normal user's PATH.
  // The postgres bin dir: initdb/pg_ctl/postgres are not on PATH at all on Debian.
  const path = [...(pgBinDir ? [pgBinDir] : []), ...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN_DIRS];
  return { ...process.env, PATH: [...new Set(path)].join(delimiter), TMPDIR: tmpDir, TMP: tmpDir, TEMP: tmpDir };
}

const SUMMARY_KEYS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Runs one `node --test` over `files` in its own process group, streaming its spec report to
 * our stdout and reading the summary counts from it. Kills the group (anything the tests left
 * running) when it ends.
 */
function runPhase(name, files, concurrency, nodeArgs, env) {
  return new Promise((resolve) => {
    log(`${name}: ${files.length} file(s), concurrency ${concurrency}`);
    const args = [
      '--test',
      `--test-concurrency=${concurrency}`,
      `--test-timeout=${fileTimeoutMs}`,
      // A test file that leaves a socket or child open must still exit; --test-force-exit did
      // that but lost the end of the file's report (scripts/test-file-exit.mjs says why).
      '--import',
      join(ROOT, 'scripts', 'test-file-exit.mjs'),
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      ...nodeArgs,
      ...files.map((f) => relative(ROOT, f)),
    ];
    // detached: own process group, so one kill(-pid) reaches the test files and everything
    // they spawned (servers started by tests do not daemonize or setsid).
    const child = spawn(process.execPath, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    currentGroup = child.pid ?? 0;
    const counts = {};
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        // Node's spec reporter ends with "ℹ tests 12", "ℹ pass 11", ... (one per key).
        const m = /^\S+ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)\s*$/.exec(line.replace(ANSI, ''));
        if (m) counts[m[1]] = Number(m[2]);
      }
    });
    child.once('error', (err) => {
      process.stderr.write(`[test] could not start node --test: ${err.message}\n`);
    });
    child.once('close', async (code, signal) => {
      await killGroup(child.pid);
      currentGroup = 0;
      resolve({ name, code, signal, counts, files: files.length });
    });
  });
}

/** SIGTERM the process group, then SIGKILL what is left after a grace period. */
async function killGroup(pgid) {
  if (!pgid) return;
  if (!signalGroup(pgid, 'SIGTERM')) return;
  const deadline = Date.now() + groupKillGraceMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    if (!signalGroup(pgid, 0)) return;
  }
  // Zombies (orphans nobody reaps in a container) also answer signal 0: kill and move on.
  signalGroup(pgid, 'SIGKILL');
}

function signalGroup(pgid, sig) {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false; // ESRCH: nobody left in the group
  }
}

function cleanup() {
  if (currentGroup) signalGroup(currentGroup, 'SIGKILL');
  if (tmpDir) {
    rmSync(tmpDir, { recursive: true, force: true });
    tmpDir = '';
  }
}

function formatMs(ms) {
  const s = ms / 1000;
  return s >= 60 ? `${Math.floor(s / 60)}m ${(s % 60).toFixed(1)}s` : `${s.toFixed(1)}s`;
}

function onSignal(sig) {
  if (interrupted) return;
  interrupted = true;
  process.stderr.write(`\n[test] ${sig}: stopping tests\n`);
  const group = currentGroup;
  killGroup(group).finally(() => {
    currentGroup = 0;
    cleanup();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

// ---------------------------------------------------------------- main

/**
 * Runs this script again under a Node >= 22 when the current one is older; resolves to true
 * (after that run ended, with its exit code set) or false when this node will do.
 */
function rerunUnderNewerNode() {
  let bin;
  try {
    bin = nodeForProject(ROOT, npmCommand(), log);
  } catch (err) {
    fail(err.message);
  }
  if (bin === process.execPath) return Promise.resolve(false);
  if (process.env.TEST_MJS_NODE_RERUN === '1') fail(`${bin} is not the node this run was started with`);
  log(`running the tests with ${bin} (${spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim()})`);
  // Its directory first on PATH: anything the tests start as plain `node` or via npx gets it too.
  // The marker is not named SHARDMQ_*: shardmq processes the tests start refuse unknown SHARDMQ_ vars.
  const env = { ...process.env, TEST_MJS_NODE_RERUN: '1', PATH: [dirname(bin), process.env.PATH ?? ''].join(delimiter) };
  const child = spawn(bin, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', env });
  // The child cleans up after itself on these; a terminal's SIGINT reaches both of us anyway.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  return new Promise((resolve) => {
    child.once('error', (err) => fail(`could not start ${bin}: ${err.message}`));
    child.once('exit', (code, signal) => {
      process.exitCode = code ?? (signal === 'SIGINT' ? 130 : 1);
      resolve(true);
    });
  });
}

async function main() {
  const { filters, nodeArgs } = parseArgs(process.argv.slice(2));
  // npm ci first: it empties node_modules, where the Node 24 fallback lives.
  installModules();
  if (await rerunUnderNewerNode()) return;
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGHUP', () => onSignal('SIGHUP'));
  process.on('exit', cleanup);

  provision();
  build();
  if (filters.length === 0) lintAndFormat();
  removeStaleOutputs();

  const all = findTestFiles();
  const selected = filters.length === 0 ? all : all.filter((f) => filters.some((w) => relative(DIST_TEST, f).includes(w)));
  if (selected.length === 0) {
    fail(filters.length ? `no test file under dist/test matches ${filters.map((w) => JSON.stringify(w)).join(' or ')}` : 'no test files found under dist/test');
  }
  const unitDir = join(DIST_TEST, 'unit') + sep;
  const phases = [
    { name: 'unit', files: selected.filter((f) => f.startsWith(unitDir)), concurrency: unitConcurrency },
    { name: 'e2e', files: selected.filter((f) => !f.startsWith(unitDir)), concurrency: e2eConcurrency },
  ].filter((p) => p.files.length > 0);

  // A fresh private temp dir per run: tests put data dirs, sockets and configs here, parallel
  // runs never collide, and whatever a test forgets is deleted with it. 0711: postgres run as
  // another user (when tests run as root) must traverse it to reach its own data dir.
  tmpDir = mkdtempSync(join(tmpdir(), 'shardmq-test-'));
  chmodSync(tmpDir, 0o711);
  const env = testEnv(findPostgresBinDir());
  // Helm only for the chart test, and only when it is chosen: npm start never downloads it.
  // (Not named SHARDMQ_*: shardmq processes the tests start refuse unknown SHARDMQ_ vars.)
  if (!env.TEST_HELM_BIN && selected.some((f) => relative(DIST_TEST, f).includes(HELM_TEST_WORD))) {
    try {
      env.TEST_HELM_BIN = helmForTests(ROOT, npmCommand(), log);
    } catch (err) {
      fail(err.message);
    }
  }

  const watchdog = setTimeout(() => {
    process.stderr.write(`\n[test] error: the run exceeded ${formatMs(runTimeoutMs)} (SHARDMQ_TEST_RUN_TIMEOUT_MS); killing it\n`);
    onSignal('SIGTERM');
  }, runTimeoutMs);
  watchdog.unref();

  const results = [];
  for (const p of phases) {
    if (interrupted) break;
    results.push(await runPhase(p.name, p.files, p.concurrency, nodeArgs, env));
  }
  clearTimeout(watchdog);
  cleanup();

  const total = Object.fromEntries(SUMMARY_KEYS.map((k) => [k, 0]));
  let ok = true;
  for (const r of results) {
    if (r.counts.tests === undefined) {
      ok = false;
      process.stderr.write(`[test] error: ${r.name} run ended (exit ${r.code ?? r.signal}) without a test summary\n`);
    }
    if (r.code !== 0) ok = false;
    for (const k of SUMMARY_KEYS) total[k] += r.counts[k] ?? 0;
  }
  if (total.fail > 0 || total.cancelled > 0) ok = false;
  const wallMs = Date.now() - startedAt;

  process.stdout.write('\n== shardmq test summary ==\n');
  process.stdout.write(`files ${selected.length} (${results.map((r) => `${r.name} ${r.files}`).join(', ')})\n`);
  for (const k of SUMMARY_KEYS) process.stdout.write(`${k} ${total[k]}\n`);
  process.stdout.write(`wall time ${formatMs(wallMs)}\n`);
  if (wallMs > suiteBudgetMs && filters.length === 0) {
    process.stdout.write(`warning: the suite took longer than its ${formatMs(suiteBudgetMs)} budget\n`);
  }
  process.stdout.write(ok ? 'result: PASS\n' : 'result: FAIL\n');
  process.exit(ok ? 0 : 1);
}

main().catch((err) => fail(err?.stack ?? String(err)));
