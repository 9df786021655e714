import { createMemoryBus } from '../../common/src/bus/memory-bus.js';
import type { Bus } from '../../common/src/bus/bus.js';
import { loadConfig } from '../../common/src/config/load-config.js';
import type { Config } from '../../common/src/config/settings.js';
import { createLogger, type Logger } from '../../common/src/log.js';
import { Metrics } from '../../common/src/metrics.js';
import { subjectSpace } from '../../common/src/subjects.js';
import { createAuthClient, type AuthClient } from '../../gateway/src/auth-client.js';
import { AuthService } from '../../auth-service/src/auth-service.js';
import type { AuthReply } from '../../common/src/auth-contract/auth-protocol.js';

/**
 * An AuthService answering on a real (in-memory) bus, driven the way the gateway drives it:
 * through createAuthClient. Config comes from SHARDMQ_* env names, exactly as operators set it.
 * Log lines are kept in `logs` for assertions. Who may call: tests only.
 */
export interface AuthHarness {
  readonly bus: Bus;
  readonly config: Config;
  readonly service: AuthService;
  readonly client: AuthClient;
  readonly metrics: Metrics;
  readonly logs: string[];
  /** Authenticates like a gateway would (password given as text, sent as base64 bytes). */
  connect(c: { clientId: string; username?: string; password?: string; mountpoint?: string; protocolVersion?: 3 | 4 | 5 }): Promise<AuthReply>;
  close(): Promise<void>;
}

export async function startAuthHarness(env: Record<string, string>, opts: { start?: boolean } = {}): Promise<AuthHarness> {
  const config = loadConfig({ env: { ...env }, argv: [] });
  const bus = createMemoryBus();
  const subjects = subjectSpace();
  const logs: string[] = [];
  const log: Logger = createLogger('debug', { role: 'auth' }, (l) => logs.push(l));
  const metrics = new Metrics(false);
  const service = AuthService.create(config, { bus, subjects, log, metrics });
  if (opts.start !== false) await service.start();
  const client = createAuthClient(bus, subjects, 10_000);
  return {
    bus,
    config,
    service,
    client,
    metrics,
    logs,
    connect: (c) =>
      client.authenticate({
        mountpoint: c.mountpoint ?? '',
        clientId: c.clientId,
        username: c.username,
        password: c.password === undefined ? undefined : Buffer.from(c.password, 'utf8').toString('base64'),
        protocolVersion: c.protocolVersion ?? 4,
      }),
    async close() {
      await service.stop();
      await bus.close();
    },
  };
}

/** Polls `check` every intervalMs until it returns true or timeoutMs passes (then throws `what`). */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 30_000, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Current value of a counter/gauge with the given labels from the harness registry. */
export async function metricValue(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = metrics.registry.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  let total = 0;
  for (const v of data.values) {
    const l = v.labels as Record<string, string | number>;
    if (Object.entries(labels).every(([k, want]) => String(l[k]) === want) && !('le' in l)) total += v.value;
  }
  return total;
}
