import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { configReferenceMarkdown, HELM_CHART_OWNED, helmValuesDefaults, helmValuesSchema, settingReferences } from '../../common/src/config/reference.js';
import { envName, flagName } from '../../common/src/config/setting.js';
import { settings } from '../../common/src/config/settings.js';

/**
 * docs/configuration.md and the Helm chart's config values are generated from the settings
 * registry; this fails as soon as someone adds or changes a setting without regenerating them.
 */

// dist/test/unit/<this>.js -> repository root
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REGENERATE = 'npx tsc -b && node scripts/gen-config-docs.mjs';

describe('configuration reference', () => {
  it('docs/configuration.md and the Helm values are up to date with the registry', () => {
    const r = spawnSync(process.execPath, ['scripts/gen-config-docs.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stderr}${r.stdout}\nThe configuration reference is stale: regenerate it with\n  ${REGENERATE}\nand commit the result.`);
  });

  it('lists every setting with its env var and flag, and marks secrets', () => {
    const md = configReferenceMarkdown();
    const refs = settingReferences();
    assert.equal(refs.length, Object.keys(settings).length);
    for (const r of refs) {
      const row = md.split('\n').find((l) => l.startsWith(`| \`${r.key}\``));
      assert.ok(row, `no row for ${r.key}`);
      assert.ok(row.includes(`\`${envName(r.key)}\``) && row.includes(`\`${flagName(r.key)}\``), row);
      assert.equal(row.includes('(secret)'), Boolean(r.setting.secret), row);
      if (r.setting.secret) assert.ok(row.includes(`${envName(r.key)}_FILE`), row);
    }
  });

  it('the committed values.yaml holds exactly helmValuesDefaults() under config', () => {
    const values = parseYaml(readFileSync(`${ROOT}deploy/helm/shardmq/values.yaml`, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(values.config, helmValuesDefaults().config, `values.yaml is stale: run ${REGENERATE}`);
  });

  it('helm defaults and schema cover every setting except the chart-owned ones', () => {
    const config = helmValuesDefaults().config as Record<string, unknown>;
    const schema = (helmValuesSchema().properties as Record<string, { properties: Record<string, unknown> }>).config;
    for (const key of Object.keys(settings)) {
      const segs = key.split('.');
      let v: unknown = config;
      let s: unknown = schema;
      for (const seg of segs) {
        v = (v as Record<string, unknown> | undefined)?.[seg];
        s = (s as { properties?: Record<string, unknown> } | undefined)?.properties?.[seg];
      }
      if (key in HELM_CHART_OWNED) {
        assert.equal(v, undefined, key);
        assert.equal(s, undefined, key);
        continue;
      }
      const d = (settings as Record<string, { default: unknown }>)[key]!.default;
      assert.deepEqual(v, d === undefined ? null : d, key);
      assert.ok(s, `schema lacks ${key}`);
    }
  });
});
