/**
 * The configuration reference, generated from the settings registry (settings*.ts) so the docs and
 * the Helm chart can never list a setting the code does not know, or miss one it does.
 *
 * Outputs (written by scripts/gen-config-docs.mjs, checked by test/unit/config-reference-up-to-date):
 *   - configReferenceMarkdown(): the tables of docs/configuration.md
 *   - helmValuesYaml():          the `config:` block of deploy/helm/shardmq/values.yaml
 *   - helmValuesSchema():        deploy/helm/shardmq/values.schema.json (Helm rejects unknown or mistyped config.*)
 *   - helmSecretSettingsTpl():   deploy/helm/shardmq/templates/_settings.generated.tpl (which config.* go to the Secret)
 *
 * Pure functions over the registry; anyone may call them (build scripts, tests, the CLI).
 */
import { envName, flagName, helmName, type Setting } from './setting.js';
import { settings } from './settings.js';

/**
 * Settings the Helm chart does not take from `config.*`, and why. `roles` is what tells the tier
 * Deployments apart: each Deployment sets SHARDMQ_ROLES itself.
 */
export const HELM_CHART_OWNED: Readonly<Record<string, string>> = {
  roles: 'set by the chart: one Deployment per role',
};

export interface SettingReference {
  readonly key: string;
  readonly env: string;
  readonly flag: string;
  /** Helm value path, or undefined when the chart sets it itself (HELM_CHART_OWNED). */
  readonly helm: string | undefined;
  readonly setting: Setting<unknown>;
}

/** Every setting in registry order, with its four names. Throws if two keys collide on a name. */
export function settingReferences(): SettingReference[] {
  const out: SettingReference[] = [];
  const seen = new Map<string, string>();
  for (const [key, setting] of Object.entries(settings) as [string, Setting<unknown>][]) {
    const env = envName(key);
    const flag = flagName(key);
    for (const name of [env, flag]) {
      const other = seen.get(name);
      if (other !== undefined) throw new Error(`settings ${other} and ${key} both map to ${name}`);
      seen.set(name, key);
    }
    out.push({ key, env, flag, helm: key in HELM_CHART_OWNED ? undefined : helmName(key), setting });
  }
  // A key that is also the prefix of another (`auth` and `auth.x`) cannot be a JSON/YAML leaf and a map at once.
  for (const { key } of out) {
    const clash = out.find((r) => r.key.startsWith(key + '.'));
    if (clash) throw new Error(`setting ${key} is also a prefix of ${clash.key}; config files and Helm values cannot hold both`);
  }
  return out;
}

// ------------------------------------------------------------------ markdown

const md = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\n/g, ' ');

function typeText(s: Setting<unknown>): string {
  switch (s.type) {
    case 'int':
      return `int (${s.min} to ${s.max})`;
    case 'enum':
      return `one of ${s.values!.map((v) => `\`${v}\``).join(', ')}`;
    case 'list':
      return s.values ? `list of ${s.values.map((v) => `\`${v}\``).join(', ')}` : 'list (comma separated)';
    default:
      return s.type;
  }
}

function defaultText(s: Setting<unknown>): string {
  const v = s.default;
  if (v === undefined) return '_unset_';
  if (Array.isArray(v)) return v.length === 0 ? '_empty_' : `\`${v.join(',')}\``;
  if (v === '') return '`""`';
  return `\`${String(v)}\``;
}

/** Group name of a key: its first segment, or "general" for one-segment keys. */
function groupOf(key: string): string {
  const i = key.indexOf('.');
  return i < 0 ? 'general' : key.slice(0, i);
}

/**
 * The reference tables (one per key group, in registry order), without the hand-written header.
 * Secret settings are marked and name their `<ENV>_FILE` variant.
 */
export function configReferenceMarkdown(): string {
  const groups = new Map<string, SettingReference[]>();
  for (const r of settingReferences()) {
    const g = groupOf(r.key);
    const list = groups.get(g) ?? [];
    list.push(r);
    groups.set(g, list);
  }
  const lines: string[] = [];
  for (const [g, refs] of groups) {
    lines.push(`### ${g}`, '');
    lines.push('| Key | Env var | Flag | Helm value | Type | Default | Description |');
    lines.push('|---|---|---|---|---|---|---|');
    for (const r of refs) {
      const s = r.setting;
      const key = s.secret ? `\`${r.key}\` **(secret)**` : `\`${r.key}\``;
      const helm = r.helm ? `\`${r.helm}\`` : `_${HELM_CHART_OWNED[r.key]}_`;
      let doc = md(s.doc);
      if (s.secret) doc += ` Secret: never logged; may be given as a file with \`${r.env}_FILE\`; in Helm it goes to a Kubernetes Secret.`;
      lines.push(`| ${key} | \`${r.env}\` | \`${r.flag}\` | ${helm} | ${md(typeText(s))} | ${md(defaultText(s))} | ${doc} |`);
    }
    lines.push('');
  }
  lines.push(`${settingReferences().length} settings.`);
  return lines.join('\n') + '\n';
}

// ------------------------------------------------------------------ helm

function setPath(root: Record<string, unknown>, key: string, value: unknown): void {
  const segs = key.split('.');
  let cur = root;
  for (const seg of segs.slice(0, -1)) {
    const next = (cur[seg] ??= {}) as Record<string, unknown>;
    cur = next;
  }
  cur[segs[segs.length - 1]!] = value;
}

/** A default as a Helm value: unset -> null (listed, renders no env var), lists as arrays. */
function helmDefault(s: Setting<unknown>): unknown {
  const v = s.default;
  if (v === undefined) return null;
  if (Array.isArray(v)) return [...v];
  return v;
}

/**
 * `{ config: { mqtt: { port: 1883, ... }, ... } }`: every setting the chart takes from `config.*`
 * (all but HELM_CHART_OWNED), nested by key segments, with its default (null when unset).
 */
export function helmValuesDefaults(): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const r of settingReferences()) if (r.helm) setPath(config, r.key, helmDefault(r.setting));
  return { config };
}

/** Wraps text into `# ` comment lines of at most ~100 columns at the given indent. */
function comment(text: string, indent: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + 2 + line.length + 1 + word.length > 100) {
      out.push(`${indent}# ${line}`);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(`${indent}# ${line}`);
  return out;
}

/** YAML for a scalar or string list: JSON syntax is valid YAML and quotes every string safely. */
const yamlScalar = (v: unknown): string => (v === null ? 'null' : JSON.stringify(v));

/**
 * The `config:` block of values.yaml: every chart-settable setting with its default and its doc as
 * a comment. Nested maps in registry order.
 */
export function helmValuesYaml(): string {
  type Node = { children: Map<string, Node>; ref?: SettingReference };
  const root: Node = { children: new Map() };
  for (const r of settingReferences()) {
    if (!r.helm) continue;
    let cur = root;
    for (const seg of r.key.split('.')) {
      let next = cur.children.get(seg);
      if (!next) cur.children.set(seg, (next = { children: new Map() }));
      cur = next;
    }
    cur.ref = r;
  }
  const lines = ['config:'];
  const walk = (node: Node, indent: string) => {
    for (const [seg, child] of node.children) {
      if (child.ref) {
        const s = child.ref.setting;
        lines.push(...comment(`${s.doc} [${child.ref.env}; ${typeText(s).replace(/`/g, '')}]`, indent));
        if (s.secret) lines.push(...comment(`Secret: rendered into the chart's Secret, not the pod spec; or leave null and put ${child.ref.env} in secrets.existingSecret.`, indent));
        lines.push(`${indent}${seg}: ${yamlScalar(helmDefault(s))}`);
      } else {
        lines.push(`${indent}${seg}:`);
        walk(child, indent + '  ');
      }
    }
  };
  walk(root, '  ');
  return lines.join('\n') + '\n';
}

function schemaOf(s: Setting<unknown>): Record<string, unknown> {
  const d = s.doc;
  switch (s.type) {
    case 'int':
      return { type: ['integer', 'null'], minimum: s.min, maximum: s.max, description: d };
    case 'bool':
      return { type: ['boolean', 'null'], description: d };
    case 'enum':
      return { enum: [...s.values!, null], description: d };
    case 'list':
      return { type: ['array', 'null'], items: s.values ? { enum: [...s.values] } : { type: 'string' }, description: d };
    default:
      return { type: ['string', 'null'], description: d };
  }
}

/**
 * JSON schema of the chart values: `config` is closed (an unknown or mistyped config.* fails
 * `helm install` with the path named); the chart's own values are left open.
 */
export function helmValuesSchema(): Record<string, unknown> {
  type Obj = { type: 'object'; additionalProperties: false; properties: Record<string, unknown> };
  const config: Obj = { type: 'object', additionalProperties: false, properties: {} };
  for (const r of settingReferences()) {
    if (!r.helm) continue;
    const segs = r.key.split('.');
    let cur = config;
    for (const seg of segs.slice(0, -1)) {
      cur = (cur.properties[seg] ??= { type: 'object', additionalProperties: false, properties: {} }) as Obj;
    }
    cur.properties[segs[segs.length - 1]!] = schemaOf(r.setting);
  }
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'shardmq chart values (generated by scripts/gen-config-docs.mjs; do not edit)',
    type: 'object',
    properties: { config },
  };
}

/** The Helm template helper naming the secret settings (config paths, comma separated). */
export function helmSecretSettingsTpl(): string {
  const secret = settingReferences()
    .filter((r) => r.helm && r.setting.secret)
    .map((r) => r.key);
  return [
    '{{/* Generated by scripts/gen-config-docs.mjs from common/src/config/settings*.ts; do not edit. */}}',
    '{{/* config.* paths of secret settings: rendered into the Secret, never into the pod spec. */}}',
    `{{- define "shardmq.secretSettings" -}}${secret.join(',')}{{- end -}}`,
    '',
  ].join('\n');
}
