import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/free-port.js';
import { container, deployments, HelmRenderer, helmSkip, podEnv, ROOT, tierOf, type K8sObject } from '../support/helm-render.js';
import { ClientPool, collect, publish, subscribe, waitFor } from '../support/mqtt-clients.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { spawnProcess, type ManagedProcess } from '../support/processes.js';
import { makeTestCerts, type TestCerts } from '../support/tls-certs.js';

/**
 * Enabling TLS and WSS in the chart's values really gives devices working TLS and WSS ports: the
 * chart is rendered with the certificate Secret's mount path pointed at a temp dir holding a real
 * certificate under the Secret's key names, and each tier is started as a process with exactly
 * the environment its pod gets (plus PATH/HOME/TMPDIR). Two changes a single machine forces: each
 * process its own HTTP port (pods each have their own network namespace), and NATS is a private
 * nats-server (values nats.url). Devices then talk across listeners through the real tiers.
 */

const READY = /"msg":"ready"/;

describe('Helm chart: TLS and WSS listeners enabled in values serve devices', { skip: helmSkip }, () => {
  const helm = new HelmRenderer();
  const pool = new ClientPool();
  const procs: ManagedProcess[] = [];
  let nats: NatsServerHandle;
  let certs: TestCerts;
  const ports = { mqtt: 0, tls: 0, wss: 0 };

  before(async () => {
    nats = await startNatsServer({ jetstream: true });
    certs = await makeTestCerts();
    ports.mqtt = await freePort();
    ports.tls = await freePort();
    ports.wss = await freePort();
    const objs: K8sObject[] = helm.renderOk(
      {
        database: { required: false },
        nats: { url: nats.url },
        tls: { existingSecret: 'mqtt-cert', mountPath: certs.dir, certKey: 'server.crt', keyKey: 'server.key', caKey: 'ca.crt' },
        config: {
          allowAnonymous: true,
          shards: 16,
          http: { host: '127.0.0.1' },
          mqtt: { host: '127.0.0.1', port: ports.mqtt, tlsEnabled: true, tlsPort: ports.tls, wssEnabled: true, wssPort: ports.wss },
        },
      },
      'shardmq',
    );
    // Nothing of the test process's environment but what any container has.
    const cleared: Record<string, string | undefined> = {};
    for (const k of Object.keys(process.env)) if (!['PATH', 'HOME', 'TMPDIR'].includes(k)) cleared[k] = undefined;
    for (const tier of ['router', 'session', 'auth', 'gateway']) {
      const d = deployments(objs).find((x) => tierOf(x) === tier)!;
      const env = { ...cleared, ...podEnv(d, objs), SHARDMQ_HTTP_PORT: '0' };
      procs.push(await spawnProcess(process.execPath, [join(ROOT, 'dist/bin/shardmq.js'), ...container(d).args], { name: tier, env, readyLine: READY, readyTimeoutMs: 60_000 }));
    }
  });

  after(async () => {
    await pool.closeAll();
    for (const p of procs.reverse()) await p.stop(20_000);
    await nats?.stop();
    await certs?.cleanup();
    helm.dispose();
  });

  it('a subscriber over TLS and one over WSS get what a device publishes over plain MQTT', async () => {
    const ca = readFileSync(certs.caFile);
    // A busy machine can take a while to lease every shard after start: a generous CONNACK wait.
    const viaTls = await pool.connect(`mqtts://127.0.0.1:${ports.tls}`, { clientId: 'helm-tls', ca, protocolVersion: 5, connectTimeout: 60_000 });
    const viaWss = await pool.connect(`wss://localhost:${ports.wss}/mqtt`, { clientId: 'helm-wss', ca, connectTimeout: 60_000 });
    const plain = await pool.connect(`mqtt://127.0.0.1:${ports.mqtt}`, { clientId: 'helm-plain', connectTimeout: 60_000 });
    const gotTls = collect(viaTls);
    const gotWss = collect(viaWss);
    await subscribe(viaTls, 'helm/#');
    await subscribe(viaWss, 'helm/#');
    await publish(plain, 'helm/1', 'through the chart');
    await waitFor(() => gotTls.length > 0 && gotWss.length > 0, 'delivery over TLS and WSS', 30_000);
    for (const got of [gotTls, gotWss]) assert.deepEqual([got[0]!.topic, got[0]!.payload.toString()], ['helm/1', 'through the chart']);
    // The certificate served is the one from the mounted "Secret": an unrelated CA refuses it.
    await assert.rejects(pool.connect(`mqtts://127.0.0.1:${ports.tls}`, { clientId: 'helm-wrong-ca', ca: readFileSync(certs.otherCaFile), connectTimeout: 10_000 }));
  });
});
