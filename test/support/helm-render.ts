import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/**
 * Renders deploy/helm/shardmq with a real Helm binary, offline (`helm template`), and reads the
 * objects the way Kubernetes would hand them to a pod. The binary is a test-only download:
 * `npm test` installs it on demand (scripts/helm-binary.mjs) and names it in TEST_HELM_BIN; by
 * hand, `node scripts/helm-binary.mjs` puts it in the cache path below. Who may call: tests only.
 */

// dist/test/support/<this>.js -> repository root
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CHART = join(ROOT, 'deploy/helm/shardmq');
const HELM = process.env.TEST_HELM_BIN || join(ROOT, 'node_modules/.cache/shardmq-helm/helm');

/** A node:test `skip` value: false when Helm is there, else the reason and how to get it. */
export const helmSkip: false | string = existsSync(HELM) ? false : `no Helm binary at ${HELM}: run the test with \`npm test -- helm-chart\` (or \`node scripts/helm-binary.mjs\` once)`;

export type K8sObject = Record<string, any>;

export interface Rendered {
  status: number | null;
  stderr: string;
  objects: K8sObject[];
}

/** A private Helm home and values dir; dispose() removes it. */
export class HelmRenderer {
  private readonly work = mkdtempSync(join(tmpdir(), 'shardmq-helm-'));
  private valuesNo = 0;

  constructor() {
    mkdirSync(join(this.work, 'helm-home'));
  }

  /** `helm template <release> <chart> --namespace mqtt -f <values>`; values are written as JSON (valid YAML). */
  render(values: Record<string, unknown>, release = 'r1'): Rendered {
    const file = join(this.work, `values-${this.valuesNo++}.yaml`);
    writeFileSync(file, JSON.stringify(values));
    const home = join(this.work, 'helm-home');
    const r = spawnSync(HELM, ['template', release, CHART, '--namespace', 'mqtt', '-f', file], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        HELM_CACHE_HOME: join(home, 'cache'),
        HELM_CONFIG_HOME: join(home, 'config'),
        HELM_DATA_HOME: join(home, 'data'),
      },
    });
    const objects =
      r.status === 0
        ? parseAllDocuments(r.stdout)
            .map((d) => d.toJS())
            .filter((o) => o)
        : [];
    return { status: r.status, stderr: r.stderr, objects };
  }

  /** render() that must succeed. */
  renderOk(values: Record<string, unknown>, release = 'r1'): K8sObject[] {
    const r = this.render(values, release);
    assert.equal(r.status, 0, r.stderr);
    return r.objects;
  }

  dispose(): void {
    rmSync(this.work, { recursive: true, force: true });
  }
}

export const deployments = (objs: K8sObject[]): K8sObject[] => objs.filter((o) => o.kind === 'Deployment');
export const tierOf = (d: K8sObject): string => d.metadata.labels['app.kubernetes.io/component'];
export const container = (d: K8sObject): K8sObject => d.spec.template.spec.containers[0];

/**
 * The environment a tier's pod gets: its env list plus the keys of every Secret its envFrom names
 * (decoded), later sources winning as in Kubernetes; an env entry's secretKeyRef is read from the
 * named Secret. Secrets are those the chart rendered plus `existing` (Secrets an operator created
 * before the install: name -> key -> value); a reference to a missing key fails the test.
 */
export function podEnv(d: K8sObject, objs: K8sObject[], existing: Record<string, Record<string, string>> = {}): Record<string, string> {
  const secret = (name: string): Record<string, string> => {
    const s = objs.find((o) => o.kind === 'Secret' && o.metadata.name === name);
    if (s) return Object.fromEntries(Object.entries<string>(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    return existing[name] ?? {};
  };
  const env: Record<string, string> = {};
  for (const ref of container(d).envFrom ?? []) Object.assign(env, secret(ref.secretRef.name));
  for (const e of container(d).env ?? []) {
    if (e.valueFrom) {
      const ref = e.valueFrom.secretKeyRef;
      assert.ok(ref, `${e.name}: only secretKeyRef is used`);
      const v = secret(ref.name)[ref.key];
      assert.ok(v !== undefined, `${e.name}: Secret ${ref.name} has no key ${ref.key}`);
      env[e.name] = v;
    } else env[e.name] = e.value;
  }
  return env;
}
