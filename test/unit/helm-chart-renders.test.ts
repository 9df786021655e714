import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { parse } from 'yaml';
import { loadConfig } from '../../common/src/config/load-config.js';
import { settingReferences } from '../../common/src/config/reference.js';
import { ROLES } from '../../common/src/config/settings-core.js';
import { CHART, container, deployments, HelmRenderer, helmSkip, podEnv, ROOT, tierOf } from '../support/helm-render.js';

/**
 * Renders deploy/helm/shardmq offline with a real Helm binary and checks the objects: they validate
 * against the Kubernetes and Prometheus Operator schemas (kubernetes-models,
 * @kubernetes-models/prometheus-operator), and each tier's env is exactly what the config loader
 * accepts, mapped from config.* by the published naming rule (test/support/helm-render.ts says
 * where the Helm binary comes from).
 */

const DB_URL = 'postgres://shardmq:Db-pa55-word@db.example:5432/mqtt';
const helm = new HelmRenderer();
const render = (values: Record<string, unknown>, release = 'r1') => helm.render(values, release);
const renderOk = (values: Record<string, unknown>, release = 'r1') => helm.renderOk(values, release);

const withDb = (config: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  ...extra,
  config: { ...config, auth: { ...((config.auth as object) ?? {}), databaseUrl: DB_URL } },
});

/** Secrets an operator created before the install (name -> key -> value), referenced by values. */
const EXISTING_SECRETS: Record<string, Record<string, string>> = { 'nats-creds': { user: 'shardmq', password: 'Nats-ext-pa55' } };

/** Every optional part of the chart on: TLS, WebSocket and WSS listeners with a mounted certificate, client certificates, monitoring, an HPA per tier, external NATS credentials. */
const EVERYTHING_ON = {
  config: { mqtt: { tlsEnabled: true, tlsPort: 8884, wsEnabled: true, wssEnabled: true, tlsRequireClientCert: true }, cluster: { replicas: 3 } },
  chart: {
    tls: { existingSecret: 'mqtt-cert' },
    metrics: { serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } }, prometheusRule: { enabled: true } },
    tiers: Object.fromEntries(ROLES.map((r) => [r, { autoscaling: { enabled: true } }])),
    nats: { auth: { existingSecret: 'nats-creds', userKey: 'user', passwordKey: 'password' } },
  },
};

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
function realPodEnv(
  d: Record<string, any>,
  objs: Record<string, any>[],
  namespaceServices: Record<string, any>[],
  forceLinks = false,
  existing: Record<string, Record<string, string>> = {},
): Record<string, string> {
  const links = forceLinks || d.spec.template.spec.enableServiceLinks !== false ? serviceLinkEnv(namespaceServices) : {};
  return { ...links, ...podEnv(d, objs, existing) };
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
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

function validate(obj: Record<string, any>): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  assert.ok(Model, `no schema model for ${obj.apiVersion} ${obj.kind}`);
  new Model(obj).validate();
}

describe('Helm chart deploy/helm/shardmq', { skip: helmSkip }, () => {
  after(() => helm.dispose());

  it('renders with the defaults plus a database URL, and every object validates', () => {
    const objs = renderOk(withDb());
    const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(kinds, [
      'Deployment/r1-shardmq-auth',
      'Deployment/r1-shardmq-gateway',
      'Deployment/r1-shardmq-router',
      'Deployment/r1-shardmq-session',
      'PodDisruptionBudget/r1-shardmq-auth',
      'PodDisruptionBudget/r1-shardmq-gateway',
      'PodDisruptionBudget/r1-shardmq-router',
      'PodDisruptionBudget/r1-shardmq-session',
      'Secret/r1-shardmq-secrets',
      'Service/r1-shardmq-mqtt',
    ]);
    for (const o of objs) validate(o);
  });

  for (const release of ['shardmq', 'shardmq-eu']) {
    for (const [shape, values] of [
      ['defaults', withDb()],
      ['every listener, monitoring, autoscaling, external NATS credentials', withDb(EVERYTHING_ON.config, EVERYTHING_ON.chart)],
    ] as const) {
      it(`release "${release}", ${shape}: every tier's process accepts the environment its pod really gets, service links off (as rendered) and on`, () => {
        const objs = renderOk(values, release);
        // A NATS Service in the same namespace named like the release, as an operator might add it.
        const natsSvc = {
          kind: 'Service',
          metadata: { name: `${release}-nats` },
          spec: {
            ports: [
              { name: 'client', port: 4222, protocol: 'TCP' },
              { name: 'monitor', port: 8222 },
            ],
          },
        };
        const services = [...objs.filter((o) => o.kind === 'Service'), natsSvc];
        const links = serviceLinkEnv(services);
        const prefixed = Object.keys(links).filter((k) => k.startsWith('SHARDMQ_'));
        const mqttLink = `${release.toUpperCase().replace(/-/g, '_')}_MQTT_SERVICE_PORT`;
        assert.ok(prefixed.includes(mqttLink), 'the release name puts service links under our prefix');
        assert.ok(prefixed.length >= 16, prefixed.join(' '));
        for (const d of deployments(objs)) {
          assert.equal(d.spec.template.spec.enableServiceLinks, false, `${tierOf(d)}: service links are off`);
          for (const forceLinks of [false, true]) {
            const env = realPodEnv(d, objs, services, forceLinks, EXISTING_SECRETS);
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

  it('probes, ports, drain time, MQTT Service on gateways, and a PDB per tier', () => {
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
    const pdbs = objs.filter((o) => o.kind === 'PodDisruptionBudget');
    assert.deepEqual(pdbs.map((p) => p.spec.selector.matchLabels['app.kubernetes.io/component']).sort(), [...ROLES].sort());
    for (const p of pdbs) assert.deepEqual([p.spec.maxUnavailable, p.spec.minAvailable], [1, undefined]);
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
  it('every enabled listener is a gateway container port and a Service port, and the certificate Secret is mounted where the cert/key/CA settings point', () => {
    const objs = renderOk(withDb(EVERYTHING_ON.config, EVERYTHING_ON.chart));
    const gw = deployments(objs).find((d) => tierOf(d) === 'gateway')!;
    const ports = container(gw).ports as { name: string; containerPort: number }[];
    assert.deepEqual(
      ports.map((p) => [p.name, p.containerPort]),
      [
        ['mqtt', 1883],
        ['mqtts', 8884],
        ['mqtt-ws', 8080],
        ['mqtt-wss', 8443],
        ['http', 9464],
      ],
    );
    const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'r1-shardmq-mqtt')!;
    assert.deepEqual(
      svc.spec.ports.map((p: { name: string; port: number; targetPort: string }) => [p.name, p.port, p.targetPort]),
      [
        ['mqtt', 1883, 'mqtt'],
        ['mqtts', 8883, 'mqtts'],
        ['mqtt-ws', 8080, 'mqtt-ws'],
        ['mqtt-wss', 8443, 'mqtt-wss'],
      ],
      'one Service port per listener, aimed at the container port of the same name',
    );
    // The whole Secret at the mount path (no subPath: a renewed certificate reaches the files).
    const vol = gw.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'tls');
    assert.equal(vol.secret.secretName, 'mqtt-cert');
    const mount = container(gw).volumeMounts.find((m: { name: string }) => m.name === 'tls');
    assert.deepEqual(mount, { name: 'tls', mountPath: '/etc/shardmq/tls', readOnly: true });
    const cfg = loadConfig({ env: podEnv(gw, objs, EXISTING_SECRETS) });
    assert.equal(cfg['mqtt.tlsCertFile'], '/etc/shardmq/tls/tls.crt');
    assert.equal(cfg['mqtt.tlsKeyFile'], '/etc/shardmq/tls/tls.key');
    assert.equal(cfg['mqtt.tlsCaFile'], '/etc/shardmq/tls/ca.crt', 'client certificates are verified against the CA key of the Secret');
    assert.deepEqual([cfg['mqtt.tlsEnabled'], cfg['mqtt.tlsPort'], cfg['mqtt.wsEnabled'], cfg['mqtt.wssEnabled']], [true, 8884, true, true]);
    // Only gateways open listeners: only they get the ports and the private key.
    for (const d of deployments(objs).filter((x) => tierOf(x) !== 'gateway')) {
      assert.deepEqual(
        container(d).ports.map((p: { name: string }) => p.name),
        ['http'],
        tierOf(d),
      );
      assert.ok(!JSON.stringify(d.spec.template.spec.volumes).includes('mqtt-cert'), `${tierOf(d)} mounts no certificate`);
    }
    for (const o of objs) validate(o);

    // WebSocket alone: its port and nothing of TLS.
    const ws = renderOk(withDb({ mqtt: { wsEnabled: true, wsPort: 9001 } }, { service: { mqtt: { wsPort: 80 } } }));
    const wsSvc = ws.find((o) => o.kind === 'Service')!;
    assert.deepEqual(
      wsSvc.spec.ports.map((p: { name: string; port: number }) => [p.name, p.port]),
      [
        ['mqtt', 1883],
        ['mqtt-ws', 80],
      ],
    );
    const wsGw = deployments(ws).find((d) => tierOf(d) === 'gateway')!;
    assert.deepEqual(
      container(wsGw).ports.find((p: { name: string }) => p.name === 'mqtt-ws'),
      { name: 'mqtt-ws', containerPort: 9001, protocol: 'TCP' },
    );
    assert.equal(wsGw.spec.template.spec.volumes.length, 1, 'no certificate volume');
  });

  it('refuses TLS or WSS without a certificate, and a certificate given twice', () => {
    for (const mqtt of [{ tlsEnabled: true }, { wssEnabled: true }]) {
      const r = render(withDb({ mqtt }));
      assert.notEqual(r.status, 0, JSON.stringify(mqtt));
      assert.match(r.stderr, /tls\.existingSecret/);
    }
    const twice = render(withDb({ mqtt: { tlsEnabled: true, tlsCertFile: '/certs/a.crt' } }, { tls: { existingSecret: 'mqtt-cert' } }));
    assert.notEqual(twice.status, 0);
    assert.match(twice.stderr, /config\.mqtt\.tlsCertFile is set by the chart/);
    // Own volume and paths (extraVolumes) instead of tls.existingSecret are accepted.
    renderOk(withDb({ mqtt: { tlsEnabled: true, tlsCertFile: '/certs/tls.crt', tlsKeyFile: '/certs/tls.key' } }));
  });

  it('monitoring: a ServiceMonitor on a headless metrics Service, or a PodMonitor, and the alert rules file as a PrometheusRule', () => {
    const objs = renderOk(withDb(EVERYTHING_ON.config, EVERYTHING_ON.chart));
    const sm = objs.find((o) => o.kind === 'ServiceMonitor')!;
    assert.equal(sm.metadata.labels.release, 'kube-prometheus-stack', 'labels the Prometheus selects monitors by');
    const metricsSvc = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'r1-shardmq-metrics')!;
    assert.equal(metricsSvc.spec.clusterIP, 'None');
    const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    assert.ok(matches(sm.spec.selector.matchLabels, metricsSvc.metadata.labels), 'the ServiceMonitor selects the metrics Service');
    assert.ok(!matches(sm.spec.selector.matchLabels, objs.find((o) => o.metadata.name === 'r1-shardmq-mqtt')!.metadata.labels), 'and not the MQTT Service');
    for (const d of deployments(objs)) assert.ok(matches(metricsSvc.spec.selector, d.spec.template.metadata.labels), `the metrics Service lists ${tierOf(d)} pods`);
    assert.deepEqual(
      sm.spec.endpoints.map((e: { port: string; path: string }) => [e.port, e.path]),
      [['http', '/metrics']],
    );
    assert.equal(metricsSvc.spec.ports[0].targetPort, 'http');
    const rule = objs.find((o) => o.kind === 'PrometheusRule')!;
    assert.deepEqual(rule.spec, parse(readFileSync(join(ROOT, 'deploy/prometheus/shardmq-alerts.yaml'), 'utf8')), 'the rules of deploy/prometheus, unchanged');
    for (const o of objs) validate(o);

    const pm = renderOk(withDb({}, { metrics: { podMonitor: { enabled: true } } }));
    assert.equal(pm.filter((o) => o.kind === 'ServiceMonitor' || o.metadata.name === 'r1-shardmq-metrics').length, 0);
    const podMonitor = pm.find((o) => o.kind === 'PodMonitor')!;
    for (const d of deployments(pm)) assert.ok(matches(podMonitor.spec.selector.matchLabels, d.spec.template.metadata.labels), `the PodMonitor selects ${tierOf(d)} pods`);
    assert.equal(podMonitor.spec.podMetricsEndpoints[0].port, 'http');
    validate(podMonitor);

    const both = render(withDb({}, { metrics: { podMonitor: { enabled: true }, serviceMonitor: { enabled: true } } }));
    assert.notEqual(both.status, 0);
    assert.match(both.stderr, /not both/);
  });

  it('autoscaling: an HPA per tier aimed at its Deployment, the gateway on open connections (or CPU), the others on CPU; replicas left to the HPA', () => {
    const objs = renderOk(withDb(EVERYTHING_ON.config, EVERYTHING_ON.chart));
    const hpas = objs.filter((o) => o.kind === 'HorizontalPodAutoscaler');
    assert.equal(hpas.length, ROLES.length);
    for (const d of deployments(objs)) {
      const tier = tierOf(d);
      const hpa = hpas.find((h) => h.metadata.labels['app.kubernetes.io/component'] === tier)!;
      assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name });
      assert.equal(d.spec.replicas, undefined, `${tier}: the Deployment does not fight the HPA over replicas`);
      assert.ok(hpa.spec.minReplicas >= 1 && hpa.spec.maxReplicas >= hpa.spec.minReplicas, tier);
      const metric = hpa.spec.metrics[0];
      if (tier === 'gateway') {
        assert.deepEqual(metric, { type: 'Pods', pods: { metric: { name: 'shardmq_gateway_connections' }, target: { type: 'AverageValue', averageValue: '15000' } } });
      } else {
        assert.deepEqual(metric, { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } });
        assert.ok(container(d).resources.requests.cpu, `${tier}: CPU utilization needs a CPU request`);
      }
      assert.equal(hpa.spec.behavior.scaleDown.policies[0].value, 1, 'scale down one pod at a time (drain, shard hand-off)');
    }
    for (const o of objs) validate(o);
    const cpu = renderOk(withDb({}, { tiers: { gateway: { autoscaling: { enabled: true, metric: 'cpu' } } } })).find((o) => o.kind === 'HorizontalPodAutoscaler')!;
    assert.equal(cpu.spec.metrics[0].resource.name, 'cpu');
    const tooHigh = render(withDb({}, { tiers: { gateway: { autoscaling: { enabled: true, targetConnectionsPerPod: 30000 } } } }));
    assert.notEqual(tooHigh.status, 0);
    assert.match(tooHigh.stderr, /targetConnectionsPerPod \(30000\) is above tiers\.gateway\.maxConnections \(20000\)/);
    const unknown = render(withDb({}, { tiers: { router: { autoscaling: { enabled: true, metric: 'memory' } } } }));
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /tiers\.router\.autoscaling\.metric must be connections or cpu, not memory/);
  });

  it('external NATS: the credentials come from the named Secret by reference, never into the pod spec', () => {
    const objs = renderOk(withDb({}, { nats: { url: 'tls://nats.messaging:4222', auth: EVERYTHING_ON.chart.nats.auth } }));
    for (const d of deployments(objs)) {
      assert.ok(!JSON.stringify(d).includes('Nats-ext-pa55'));
      const cfg = loadConfig({ env: podEnv(d, objs, EXISTING_SECRETS) });
      assert.equal(cfg['nats.url'], 'tls://nats.messaging:4222');
      assert.equal(cfg['nats.user'], 'shardmq');
      assert.equal(cfg['nats.password'], 'Nats-ext-pa55');
    }
    const twice = render(withDb({ nats: { password: 'x' } }, { nats: { auth: EVERYTHING_ON.chart.nats.auth } }));
    assert.notEqual(twice.status, 0);
    assert.match(twice.stderr, /config\.nats\.password and nats\.auth\.passwordKey/);
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
