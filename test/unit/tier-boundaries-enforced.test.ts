import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Tier boundaries (docs/architecture.md, "Tier boundaries"): a tier imports another tier only
 * through its public surface (`<tier>/src/index.ts`), only in the directions the matrix allows
 * (common imports no tier; bin/ may import every tier). The checker is the one behind
 * `node scripts/import-matrix.mjs`, so the test and the printed matrix cannot disagree.
 */

// dist/test/unit/<this>.js -> repository root
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Classified {
  from: string | null;
  to: string | null;
  target: string;
  viaSurface: boolean;
}
interface ImportMatrixModule {
  TIERS: string[];
  ALLOWED: Record<string, string[]>;
  publicSurfaceOf(tier: string): string | null;
  importSpecifiers(source: string): string[];
  classifyImport(fromPath: string, specifier: string): Classified | null;
  boundaryViolations(fromPath: string, source: string): string[];
  tierSourceFiles(repoRoot: string): string[];
  fixImports(fromPath: string, source: string, expose: (tier: string, name: string, module: string, isType: boolean) => void): string;
}

const checker = (await import(pathToFileURL(`${ROOT}scripts/import-matrix.mjs`).href)) as ImportMatrixModule;

describe('tier boundaries', () => {
  it('no tier imports another tier except through its public surface, in an allowed direction', () => {
    const files = checker.tierSourceFiles(ROOT);
    // Guard against a scan that silently finds nothing (then "no violations" would mean nothing).
    assert.ok(files.length > 100, `only ${files.length} tier source files found under ${ROOT}`);
    let crossTier = 0;
    const violations: string[] = [];
    for (const f of files) {
      const source = readFileSync(`${ROOT}${f}`, 'utf8');
      for (const spec of checker.importSpecifiers(source)) {
        const c = checker.classifyImport(f, spec);
        if (c?.to && c.to !== c.from) crossTier++;
      }
      violations.push(...checker.boundaryViolations(f, source));
    }
    assert.ok(crossTier > 50, `only ${crossTier} cross-tier imports found`);
    assert.deepEqual(violations, [], `Import the other tier's src/index.ts (add the name there) instead; node scripts/import-matrix.mjs --fix does it:\n${violations.join('\n')}`);
  });

  it('every tier but bin/ has its public surface, made only of named re-exports of its own modules', () => {
    for (const tier of checker.TIERS) {
      const surface = checker.publicSurfaceOf(tier);
      if (tier === 'bin') {
        assert.equal(surface, null, 'bin/ is the composition root: nothing imports it');
        continue;
      }
      assert.ok(surface, tier);
      const source = readFileSync(`${ROOT}${surface}`, 'utf8');
      assert.doesNotMatch(source, /export \*/, `${surface}: name what other tiers need (no export *)`);
      for (const spec of checker.importSpecifiers(source)) {
        assert.equal(checker.classifyImport(surface, spec)?.to, tier, `${surface} re-exports '${spec}' from outside its tier`);
      }
    }
  });

  it('the allowed directions form no cycle, and common imports no tier', () => {
    assert.deepEqual(checker.ALLOWED.common, []);
    assert.deepEqual(Object.keys(checker.ALLOWED).sort(), [...checker.TIERS].sort());
    // Depth-first search: a tier met again while still on the stack closes a cycle.
    const state = new Map<string, 'open' | 'done'>();
    const visit = (tier: string, path: string[]): void => {
      if (state.get(tier) === 'done') return;
      assert.notEqual(state.get(tier), 'open', `cycle: ${[...path, tier].join(' -> ')}`);
      state.set(tier, 'open');
      for (const to of checker.ALLOWED[tier]!) visit(to, [...path, tier]);
      state.set(tier, 'done');
    };
    for (const tier of checker.TIERS) visit(tier, []);
    for (const tier of checker.TIERS) assert.ok(!checker.ALLOWED[tier]!.includes('bin'), `${tier} may not import bin/`);
  });

  it('the checker reports what it must (synthetic imports through the same function)', () => {
    const bad = (from: string, source: string) => checker.boundaryViolations(from, source);
    // Another tier's internals, as the gateway once imported the auth-service's ACL matcher.
    assert.equal(bad('gateway/src/protocol/on-publish.ts', "import { checkPublish } from '../../../auth-service/src/acl/check-acl.js';\n").length, 1);
    // common's own internals from a tier.
    assert.equal(bad('router/src/fan-out.ts', "import { shardOf } from '../../common/src/shard.js';\n").length, 1);
    // common importing a tier, even through its public surface.
    assert.equal(bad('common/src/topic.ts', "import { RouterService } from '../../router/src/index.js';\n").length, 1);
    // A direction the matrix does not allow, even through the public surface.
    assert.equal(bad('gateway/src/connection.ts', "import type { SessionService } from '../../session-actor/src/index.js';\n").length, 1);
    // Nothing imports bin/.
    assert.equal(bad('loadtest/src/cli.ts', "import { startNode } from '../../bin/start-node.js';\n").length, 1);
    // Multi-line imports, re-exports and import() types count as imports too.
    const sneaky = [
      'import {',
      '  topicMatchesFilter,',
      "} from '../../common/src/topic.js';",
      "export { Metrics } from '../../common/src/metrics.js';",
      "type M = import('../../common/src/envelope/message.js').Message;",
      '',
    ].join('\n');
    assert.equal(bad('gateway/src/x.ts', sneaky).length, 3);
    // Text in comments and strings is no import.
    assert.deepEqual(bad('gateway/src/x.ts', "// import { x } from '../../router/src/fan-out.js';\nconst s = \"from '../../router/src/fan-out.js'\";\n"), []);

    // Allowed: through the public surface, in an allowed direction; within a tier; packages; test/.
    assert.deepEqual(bad('gateway/src/protocol/on-publish.ts', "import { checkPublish, type Qos } from '../../../common/src/index.js';\n"), []);
    assert.deepEqual(bad('bin/start-node.ts', "import { GatewayService } from '../gateway/src/index.js';\n"), []);
    assert.deepEqual(bad('router/src/fan-out.ts', "import { SubscriptionIndex } from './index/subscription-index.js';\nimport pg from 'pg';\n"), []);
    assert.deepEqual(bad('test/unit/x.test.ts', "import { SubscriptionIndex } from '../../router/src/index/subscription-index.js';\n"), []);
  });

  it('--fix points imports of internals at the public surface, merged into one import, and names what the surface must export', () => {
    const from = 'router/src/fan-out.ts';
    const source = [
      "import { RingQueue } from '../../common/src/index.js';",
      "import { shardOf } from '../../common/src/shard.js';",
      "import type { Logger } from '../../common/src/log.js';",
      "import { SubscriptionIndex } from './index/subscription-index.js';",
      "export type M = import('../../common/src/envelope/message.js').Message;",
      '',
    ].join('\n');
    const exposed: string[] = [];
    const fixed = checker.fixImports(from, source, (tier, name, module, isType) => exposed.push(`${tier} ${name} ${module}${isType ? ' type' : ''}`));
    assert.equal(
      fixed,
      [
        "import { RingQueue, shardOf, type Logger } from '../../common/src/index.js';",
        "import { SubscriptionIndex } from './index/subscription-index.js';",
        "export type M = import('../../common/src/index.js').Message;",
        '',
      ].join('\n'),
    );
    assert.deepEqual(exposed.sort(), ['common Logger common/src/log.ts type', 'common Message common/src/envelope/message.ts type', 'common shardOf common/src/shard.ts']);
    assert.deepEqual(checker.boundaryViolations(from, fixed), []);
    // Nothing to fix: the text comes back unchanged.
    assert.equal(
      checker.fixImports(from, fixed, () => assert.fail('nothing to expose')),
      fixed,
    );
  });
});
