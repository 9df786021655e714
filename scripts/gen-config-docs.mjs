#!/usr/bin/env node
// Regenerates the configuration reference from the settings registry (common/src/config/settings*.ts),
// through the compiled common/src/config/reference.ts:
//
//   docs/configuration.md                               the part between the GENERATED markers
//   deploy/helm/shardmq/values.yaml                     the `config:` block between the GENERATED markers
//   deploy/helm/shardmq/values.schema.json              whole file
//   deploy/helm/shardmq/templates/_settings.generated.tpl  whole file
//
// Usage (from anywhere):
//   npx tsc -b && node scripts/gen-config-docs.mjs           write the files
//   npx tsc -b && node scripts/gen-config-docs.mjs --check   write nothing; exit 1 and name the stale files
// Text outside the markers is hand-written and kept as is.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REGENERATE = 'npx tsc -b && node scripts/gen-config-docs.mjs';

const check = process.argv.includes('--check');
for (const a of process.argv.slice(2)) {
  if (a !== '--check') {
    process.stderr.write(`usage: node scripts/gen-config-docs.mjs [--check]\n`);
    process.exit(2);
  }
}

let ref;
try {
  ref = await import(pathToFileURL(join(ROOT, 'dist/common/src/config/reference.js')).href);
} catch (e) {
  process.stderr.write(`cannot load dist/common/src/config/reference.js (${e.message}); run npx tsc -b first\n`);
  process.exit(2);
}

/** Replaces the lines strictly between the begin and end marker lines. */
function splice(file, text, begin, end, body) {
  const lines = text.split('\n');
  const b = lines.findIndex((l) => l.startsWith(begin));
  const e = lines.findIndex((l, i) => i > b && l.startsWith(end));
  if (b < 0 || e < 0) throw new Error(`${file}: markers "${begin}" ... "${end}" not found`);
  return [...lines.slice(0, b + 1), body.replace(/\n$/, ''), ...lines.slice(e)].join('\n');
}

const targets = [
  {
    file: 'docs/configuration.md',
    make: (old) => splice('docs/configuration.md', old, '<!-- BEGIN GENERATED', '<!-- END GENERATED', ref.configReferenceMarkdown()),
  },
  {
    file: 'deploy/helm/shardmq/values.yaml',
    make: (old) => splice('values.yaml', old, '# --- BEGIN GENERATED', '# --- END GENERATED', ref.helmValuesYaml()),
  },
  {
    file: 'deploy/helm/shardmq/values.schema.json',
    make: () => JSON.stringify(ref.helmValuesSchema(), null, 2) + '\n',
  },
  {
    file: 'deploy/helm/shardmq/templates/_settings.generated.tpl',
    make: () => ref.helmSecretSettingsTpl(),
  },
];

const stale = [];
for (const t of targets) {
  const path = join(ROOT, t.file);
  let old = '';
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    // a whole-file target may not exist yet; a spliced one then fails on its markers
  }
  let next;
  try {
    next = t.make(old);
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  if (next === old) continue;
  stale.push(t.file);
  if (!check) writeFileSync(path, next);
}

if (check) {
  if (stale.length > 0) {
    process.stderr.write(`out of date with the settings registry: ${stale.join(', ')}\nregenerate with: ${REGENERATE}\n`);
    process.exit(1);
  }
  process.stdout.write('configuration reference is up to date\n');
} else {
  process.stdout.write(stale.length ? `wrote ${stale.join(', ')}\n` : 'configuration reference already up to date\n');
}
