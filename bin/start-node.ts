import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { AuthService } from '../auth-service/src/index.js';
import {
  createBus,
  type Bus,
  redactedConfig,
  type Config,
  startHttpEndpoints,
  createAdminApi,
  adminSubjects,
  answerNodeInfo,
  createLogger,
  type Logger,
  Metrics,
  subjectSpace,
} from '../common/src/index.js';
import { packageVersion } from './cli/package-version.js';
import { GatewayService } from '../gateway/src/index.js';
import { RouterService } from '../router/src/index.js';
import { SessionService } from '../session-actor/src/index.js';

interface Role {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  ready(): boolean;
  /** The stop deadline passed: end the waits of stop() and close what is left now. */
  force?(): void;
}

export interface RunningNode {
  readonly bus: Bus;
  readonly log: Logger;
  readonly mqttPort?: number;
  readonly httpPort?: number;
  readonly gateway?: GatewayService;
  readonly metrics: Metrics;
  /** Graceful stop of every role, in reverse start order. */
  stop(): Promise<void>;
  /** Deadline or second signal: every role closes what it still has open, now. */
  force(): void;
}

function defaultNodeId(): string {
  const h = hostname()
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 40);
  return `${h}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * Composition root: builds the bus and the roles this process runs, starts them in
 * dependency order (router, session, auth, then the gateway that accepts devices) and
 * stops them in reverse. Every tier in the process shares one bus, logger and registry.
 */
export async function startNode(config: Config, log: Logger = createLogger(config['log.level'], {}, undefined, config['log.format'])): Promise<RunningNode> {
  const nodeId = config['node.id'] ?? defaultNodeId();
  if (!/^[A-Za-z0-9_-]+$/.test(nodeId)) throw new Error(`setting node.id (SHARDMQ_NODE_ID): must match [A-Za-z0-9_-]+, got "${nodeId}"`);
  log = log.child({ node: nodeId });
  log.info('starting', { config: redactedConfig(config) });
  const metrics = new Metrics();
  const bus = await createBus({ natsUrl: config['nats.url'], name: nodeId, user: config['nats.user'], pass: config['nats.password'], token: config['nats.token'], log, metrics });
  const subjects = subjectSpace(config['nats.subjectPrefix']);
  if (config['events.enabled'] && bus.kind === 'memory') log.warn('events.enabled is set but nats.url is not: client events stay inside this process (docs/integration.md)');
  // Readiness includes the bus: a process cut off from NATS is not ready (in-memory: always connected).
  let busConnected = true;
  bus.onStatus?.((s) => {
    busConnected = s === 'connected';
    if (!busConnected) log.warn('bus connection lost', { status: s });
    else log.info('bus connection restored');
  });
  const deps = { bus, subjects, metrics };
  const roles: Role[] = [];
  let gateway: GatewayService | undefined;
  let router: RouterService | undefined;
  let session: SessionService | undefined;
  if (config.roles.includes('router')) roles.push(wrap('router', (router = RouterService.create(config, { ...deps, log: log.child({ role: 'router' }) }))));
  if (config.roles.includes('session')) roles.push(wrap('session', (session = SessionService.create(config, { ...deps, nodeId, log: log.child({ role: 'session' }) }))));
  if (config.roles.includes('auth')) roles.push(wrap('auth', AuthService.create(config, { ...deps, log: log.child({ role: 'auth' }) })));
  if (config.roles.includes('gateway')) {
    const gw = GatewayService.create(config, { ...deps, log: log.child({ role: 'gateway' }), nodeId });
    gateway = gw;
    roles.push({ ...wrap('gateway', gw), force: () => gw.force() });
  }
  const started: Role[] = [];
  let http: { port: number; close(): Promise<void> } | undefined;
  const startedAt = Date.now();
  const version = packageVersion();
  // Every process describes itself to the admin API's cluster view (GET /api/v1/cluster).
  const nodeInfo = answerNodeInfo(bus, adminSubjects(config['nats.subjectPrefix']), () => ({
    nodeId,
    roles: [...config.roles],
    version,
    startedAt,
    ...(gateway ? { gateway: { id: gateway.gatewayId, connections: gateway.connectionCount, ports: { ...(gateway.ports ?? {}) } } } : {}),
    ...(session ? { session: { shards: session.servedShards() } } : {}),
    ...(router ? { router: { id: router.id } } : {}),
  }));
  try {
    for (const r of roles) {
      await r.start();
      started.push(r);
    }
    if (config['http.enabled']) {
      http = await startHttpEndpoints({
        host: config['http.host'],
        port: config['http.port'],
        metrics,
        log,
        api: createAdminApi({ bus, config, log, metrics }),
        ready: () => {
          const detail: Record<string, boolean> = { bus: busConnected };
          for (const r of roles) detail[r.name] = r.ready();
          return { ok: busConnected && roles.every((r) => r.ready()), detail };
        },
      });
    }
  } catch (err) {
    for (const r of started.reverse()) await r.stop().catch(() => {});
    await bus.close().catch(() => {});
    throw err;
  }
  log.info('ready', { roles: config.roles, mqttPort: gateway?.port, listeners: gateway?.ports, httpPort: http?.port, bus: bus.kind });
  let stopping: Promise<void> | undefined;
  return {
    bus,
    log,
    mqttPort: gateway?.port,
    httpPort: http?.port,
    gateway,
    metrics,
    // The gateway stops first (it drains devices while the tiers behind it still answer),
    // then auth, session (hands its shards off) and router (answers what it holds).
    stop: () =>
      (stopping ??= (async () => {
        const t0 = Date.now();
        log.info('stopping');
        for (const r of [...started].reverse()) {
          const t = Date.now();
          await r.stop().catch((err: Error) => log.error('error stopping role', { role: r.name, err }));
          log.info('role stopped', { role: r.name, ms: Date.now() - t });
        }
        nodeInfo.unsubscribe();
        // Not http.close(): like any server's close it waits for open (keep-alive) connections.
        void http?.close();
        await bus.close().catch(() => {});
        log.info('stopped', { ms: Date.now() - t0 });
      })()),
    force: () => {
      for (const r of started) r.force?.();
    },
  };
}

function wrap(name: string, s: { start(): Promise<void>; stop(): Promise<void>; ready(): boolean }): Role {
  return { name, start: () => s.start(), stop: () => s.stop(), ready: () => s.ready() };
}
