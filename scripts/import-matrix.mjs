#!/usr/bin/env node
// Import matrix between tiers, and the checker behind the tier-boundary rule (docs/architecture.md,
// "Tier boundaries"). Run: `node scripts/import-matrix.mjs [--json]`.
//
// For each (from-tier, to-tier) pair it prints the number of import statements (import/export
// ... from, import(), import type) and how many of them target something other than the target
// tier's public surface (`<tier>/src/index.ts`). test/unit/tier-boundaries-enforced.test.ts imports
// the functions below, so the printed matrix and the test agree by construction.
//
// Imports are found by TypeScript's own pre-processor (ts.preProcessFile), so an import spread over
// several lines, an `import('…').Type` in a signature and an `export … from` all count, and text in
// comments or strings does not.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

/** Tiers in the order the matrix prints them. bin/ is the composition root: it has no public surface. */
export const TIERS = ['gateway', 'session-actor', 'router', 'auth-service', 'common', 'loadtest', 'bin'];

/**
 * Allowed import directions (from-tier -> tiers it may import, always through their public surface).
 * Acyclic by construction: common imports no tier, the service tiers only common, bin everything.
 * test/ is no tier: unit tests may import any internal module.
 */
export const ALLOWED = {
  common: [],
  router: ['common'],
  'session-actor': ['common'],
  'auth-service': ['common'],
  gateway: ['common'],
  loadtest: ['common'],
  bin: ['gateway', 'session-actor', 'router', 'auth-service', 'common', 'loadtest'],
};

/** The one module other tiers may import from `tier` (repository-relative), or null (bin). */
export function publicSurfaceOf(tier) {
  return tier === 'bin' ? null : `${tier}/src/index.ts`;
}

/** The tier a repository-relative path (forward slashes) belongs to, or null (test/, scripts/, ...). */
export function tierOf(relPath) {
  const top = relPath.split('/')[0];
  return TIERS.includes(top) ? top : null;
}

/** Module specifiers of every import/export statement in a TypeScript source text. */
export function importSpecifiers(source) {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/**
 * Classifies one import of `fromPath` (repository-relative, forward slashes). Package and node:
 * imports give null. `target` is the repository-relative .ts file the specifier resolves to.
 */
export function classifyImport(fromPath, specifier) {
  if (!specifier.startsWith('.')) return null;
  const target = posix.normalize(posix.join(posix.dirname(fromPath), specifier)).replace(/\.js$/, '.ts');
  const from = tierOf(fromPath);
  const to = tierOf(target);
  return { from, to, target, viaSurface: to !== null && target === publicSurfaceOf(to) };
}

/**
 * Boundary violations of one source file: an import of another tier's internals, or an import in a
 * direction ALLOWED does not list (this includes common importing any tier). Files outside the
 * tiers (test/, scripts/) give none.
 */
export function boundaryViolations(fromPath, source) {
  const from = tierOf(fromPath);
  if (from === null) return [];
  const problems = [];
  for (const spec of importSpecifiers(source)) {
    const c = classifyImport(fromPath, spec);
    if (c === null || c.to === null || c.to === from) continue;
    if (!ALLOWED[from].includes(c.to)) problems.push(`${fromPath}: ${from} may not import ${c.to} ('${spec}')`);
    else if (!c.viaSurface) problems.push(`${fromPath}: imports ${c.to} internals ('${spec}'); import ${publicSurfaceOf(c.to)} instead`);
  }
  return problems;
}

/** Repository-relative paths of the .ts files of every tier (no node_modules, no dist). */
export function tierSourceFiles(repoRoot) {
  const out = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist') continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(relative(repoRoot, p).split(sep).join('/'));
    }
  };
  for (const t of TIERS) walk(join(repoRoot, t));
  return out.sort();
}

/** matrix[from][to] = { imports, internal } over every cross-tier import of the tiers' sources. */
export function importMatrix(repoRoot) {
  const matrix = {};
  for (const f of TIERS) {
    matrix[f] = {};
    for (const t of TIERS) matrix[f][t] = { imports: 0, internal: 0 };
  }
  for (const file of tierSourceFiles(repoRoot)) {
    const source = readFileSync(join(repoRoot, file), 'utf8');
    for (const spec of importSpecifiers(source)) {
      const c = classifyImport(file, spec);
      if (c === null || c.to === null || c.to === c.from) continue;
      const cell = matrix[c.from][c.to];
      cell.imports++;
      if (!c.viaSurface) cell.internal++;
    }
  }
  return matrix;
}

/** The matrix as a Markdown table: "imports / internal" per cell, '-' where there are none. */
export function formatMatrix(matrix) {
  const header = `| from \\ to | ${TIERS.join(' | ')} |`;
  const rule = `|${'---|'.repeat(TIERS.length + 1)}`;
  const rows = TIERS.map((f) => {
    const cells = TIERS.map((t) => {
      if (f === t) return '·';
      const c = matrix[f][t];
      return c.imports === 0 ? '-' : `${c.imports} / ${c.internal}`;
    });
    return `| ${f} | ${cells.join(' | ')} |`;
  });
  return [header, rule, ...rows].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
  const matrix = importMatrix(repoRoot);
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(matrix)}\n`);
  } else {
    process.stdout.write('Cross-tier import statements: "imports / of which bypass the target tier\'s public surface (<tier>/src/index.ts)"\n\n');
    process.stdout.write(`${formatMatrix(matrix)}\n`);
    const violations = tierSourceFiles(repoRoot).flatMap((f) => boundaryViolations(f, readFileSync(join(repoRoot, f), 'utf8')));
    process.stdout.write(`\n${violations.length} boundary violation(s)\n`);
    for (const v of violations) process.stdout.write(`  ${v}\n`);
  }
}
