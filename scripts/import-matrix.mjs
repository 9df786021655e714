#!/usr/bin/env node
// Import matrix between tiers, and the checker behind the tier-boundary rule (docs/architecture.md,
// "Tier boundaries"). Run: `node scripts/import-matrix.mjs [--json]`.
//
// For each (from-tier, to-tier) pair it prints the number of import statements (import/export
// ... from, import(), import type) and how many of them target something other than the target
// tier's public surface (`<tier>/src/index.ts`). test/unit/tier-boundaries-enforced.test.ts imports
// the functions below, so the printed matrix and the test agree by construction.
//
// --fix rewrites every import of another tier's internals (in an allowed direction) to that tier's
// public surface, merging it with the file's other imports from there, and adds the imported names to
// the surface. It only adds: names nobody imports any more are removed by hand. Run
// `npx biome check --write .` after it. Handy after merging a branch written before the boundaries.
//
// Imports are found by TypeScript's own pre-processor (ts.preProcessFile), so an import spread over
// several lines, an `import('…').Type` in a signature and an `export … from` all count, and text in
// comments or strings does not.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/** The relative specifier (with .js) that `fromPath` uses for the repository-relative .ts file `target`. */
function specifierFor(fromPath, target) {
  const s = posix.relative(posix.dirname(fromPath), target).replace(/\.ts$/, '.js');
  return s.startsWith('.') ? s : `./${s}`;
}

/** `{ a, type B, c as d }` text of import elements ({ name, local, isType }). */
function namedList(els) {
  const allType = els.every((e) => e.isType);
  const list = els.map((e) => `${!allType && e.isType ? 'type ' : ''}${e.name}${e.local && e.local !== e.name ? ` as ${e.local}` : ''}`).join(', ');
  return `${allType ? 'type ' : ''}{ ${list} }`;
}

/**
 * --fix for one file: `source` with its imports of other tiers' internals pointed at their public
 * surfaces (one merged import per surface), or the same text when there is nothing to fix.
 * `expose(tier, name, module, isType)` is called for every name the surface must now export.
 */
export function fixImports(fromPath, source, expose) {
  const from = tierOf(fromPath);
  if (from === null || fromPath === publicSurfaceOf(from)) return source;
  const sf = ts.createSourceFile(fromPath, source, ts.ScriptTarget.Latest, true);
  const edits = [];
  const bySurface = new Map(); // surface -> { decls, els, changed }
  const cross = (specNode) => {
    const c = classifyImport(fromPath, specNode.text);
    return c && c.to !== null && c.to !== from && ALLOWED[from].includes(c.to) ? c : null;
  };
  const respecify = (specNode, c) => edits.push({ start: specNode.getStart() + 1, end: specNode.getEnd() - 1, text: specifierFor(fromPath, publicSurfaceOf(c.to)) });
  const visit = (node) => {
    if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      const c = cross(node.argument.literal);
      if (c && !c.viaSurface && node.qualifier) {
        let q = node.qualifier;
        while (ts.isQualifiedName(q)) q = q.left;
        expose(c.to, q.text, c.target, true);
        respecify(node.argument.literal, c);
      }
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = cross(node.moduleSpecifier);
      if (c && !c.viaSurface && node.exportClause && ts.isNamedExports(node.exportClause)) {
        for (const el of node.exportClause.elements) expose(c.to, (el.propertyName ?? el.name).text, c.target, node.isTypeOnly || el.isTypeOnly);
        respecify(node.moduleSpecifier, c);
      }
    } else if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = cross(node.moduleSpecifier);
      const clause = node.importClause;
      // Default and namespace imports are left alone (no tier exports a default); the test reports them.
      if (c && clause && !clause.name && clause.namedBindings && ts.isNamedImports(clause.namedBindings)) {
        const surface = publicSurfaceOf(c.to);
        const group = bySurface.get(surface) ?? { decls: [], els: [], changed: false };
        bySurface.set(surface, group);
        group.decls.push(node);
        for (const el of clause.namedBindings.elements) {
          const e = { name: (el.propertyName ?? el.name).text, local: el.name.text, isType: clause.isTypeOnly || el.isTypeOnly };
          if (!c.viaSurface) expose(c.to, e.name, c.target, e.isType);
          const same = group.els.find((x) => x.name === e.name && x.local === e.local);
          if (same) same.isType &&= e.isType;
          else group.els.push(e);
        }
        if (!c.viaSurface) group.changed = true;
      }
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  for (const [surface, g] of bySurface) {
    if (!g.changed) continue;
    g.decls.forEach((d, i) => {
      let end = d.getEnd();
      if (i > 0 && source[end] === '\n') end++;
      edits.push({ start: d.getStart(), end, text: i === 0 ? `import ${namedList(g.els)} from '${specifierFor(fromPath, surface)}';` : '' });
    });
  }
  edits.sort((a, b) => b.start - a.start);
  let out = source;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/** Adds `names` (Map module -> Map name -> isType) to the public surface of `tier`, keeping what it has. */
function extendSurface(repoRoot, tier, names) {
  const surface = publicSurfaceOf(tier);
  const path = join(repoRoot, surface);
  const source = existsSync(path) ? readFileSync(path, 'utf8') : `/** Public surface of ${tier}/ (tier boundaries: docs/architecture.md). */\n`;
  const sf = ts.createSourceFile(surface, source, ts.ScriptTarget.Latest, true);
  const modules = new Map();
  for (const st of sf.statements) {
    if (!ts.isExportDeclaration(st) || !st.moduleSpecifier || !st.exportClause || !ts.isNamedExports(st.exportClause))
      throw new Error(`${surface}: only 'export { ... } from' statements are supported`);
    const module = classifyImport(surface, st.moduleSpecifier.text).target;
    const m = modules.get(module) ?? new Map();
    modules.set(module, m);
    for (const el of st.exportClause.elements) m.set(el.name.text, st.isTypeOnly || el.isTypeOnly);
  }
  const exportedFrom = new Map([...modules].flatMap(([module, m]) => [...m.keys()].map((name) => [name, module])));
  for (const [module, add] of names) {
    const m = modules.get(module) ?? new Map();
    modules.set(module, m);
    for (const [name, isType] of add) {
      const other = exportedFrom.get(name);
      // Already exported from another module (e.g. a barrel that re-exports it): keep that one.
      if (other !== undefined && other !== module) continue;
      m.set(name, m.has(name) ? m.get(name) && isType : isType);
    }
    if (m.size === 0) modules.delete(module);
  }
  const header = source.slice(0, sf.statements.length ? sf.statements[0].getStart() : source.length).trimEnd();
  const lines = [...modules.keys()].sort().map((module) => {
    const els = [...modules.get(module)].sort(([a], [b]) => a.localeCompare(b)).map(([name, isType]) => ({ name, isType }));
    return `export ${namedList(els)} from '${specifierFor(surface, module)}';`;
  });
  writeFileSync(path, `${header}\n${lines.join('\n')}\n`);
}

/** --fix over the whole tree; returns the repository-relative paths it rewrote. */
export function fixTree(repoRoot) {
  const wanted = new Map(); // tier -> module -> name -> isType
  const expose = (tier, name, module, isType) => {
    const byModule = wanted.get(tier) ?? new Map();
    wanted.set(tier, byModule);
    const names = byModule.get(module) ?? new Map();
    byModule.set(module, names);
    names.set(name, names.has(name) ? names.get(name) && isType : isType);
  };
  const changed = [];
  for (const file of tierSourceFiles(repoRoot)) {
    const source = readFileSync(join(repoRoot, file), 'utf8');
    const fixed = fixImports(file, source, expose);
    if (fixed !== source) {
      writeFileSync(join(repoRoot, file), fixed);
      changed.push(file);
    }
  }
  for (const [tier, names] of wanted) {
    extendSurface(repoRoot, tier, names);
    changed.push(publicSurfaceOf(tier));
  }
  return changed;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
  if (process.argv.includes('--fix')) {
    const changed = fixTree(repoRoot);
    process.stdout.write(`rewrote ${changed.length} file(s)${changed.map((f) => `\n  ${f}`).join('')}\nnow run: npx biome check --write . && npx tsc -b\n`);
  }
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
