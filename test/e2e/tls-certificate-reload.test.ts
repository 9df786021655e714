import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { brokerFixture } from '../support/broker-fixture.js';
import { MODES } from '../support/broker.js';
import { metricOf, waitForMetric } from '../support/broker-metrics.js';
import { listenerPorts } from '../support/listener-ports.js';
import { collect, publish, sleep, subscribe, waitFor } from '../support/mqtt-clients.js';
import { issueCert, makeTestCerts, type TestCerts } from '../support/tls-certs.js';

/**
 * Certificate hot reload: the certificate files of the TLS and WSS listeners are swapped on
 * disk (as cert-manager does), and the next TLS connection is served the new certificate while
 * a connection made before keeps working; a key that does not match is not loaded.
 */

/** The SHA-256 fingerprint of the certificate a TLS handshake to the port presents. */
function servedFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.once('error', reject);
  });
}

const fingerprintOf = (pemFile: string) => new X509Certificate(readFileSync(pemFile)).fingerprint256;

/** Polls new TLS connections until one is served `fingerprint` (or 20 s pass); returns the last one served. */
async function servedEventually(port: number, ca: Buffer, fingerprint: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  let served = await servedFingerprint(port, ca);
  while (served !== fingerprint && Date.now() < deadline) {
    await sleep(50);
    served = await servedFingerprint(port, ca);
  }
  return served;
}

/** Replaces a file in one step (rename), as a Kubernetes Secret volume swaps its files. */
function swap(from: string, to: string): void {
  copyFileSync(from, `${to}.new`);
  renameSync(`${to}.new`, to);
}

for (const mode of MODES) {
  describe(`TLS certificate reload (${mode})`, () => {
    let certs: TestCerts;
    let certFile = '';
    let keyFile = '';
    before(async () => {
      certs = await makeTestCerts();
      certFile = join(certs.dir, 'live.crt');
      keyFile = join(certs.dir, 'live.key');
      copyFileSync(certs.serverCertFile, certFile);
      copyFileSync(certs.serverKeyFile, keyFile);
    });
    // The paths are read when the fixture starts the broker, after the before() above.
    const f = brokerFixture(mode, {
      gateways: 1,
      env: {
        SHARDMQ_MQTT_TLS_ENABLED: 'true',
        SHARDMQ_MQTT_TLS_PORT: '0',
        SHARDMQ_MQTT_WSS_ENABLED: 'true',
        SHARDMQ_MQTT_WSS_PORT: '0',
        SHARDMQ_MQTT_TLS_RELOAD_CHECK_MS: '200',
        get SHARDMQ_MQTT_TLS_CERT_FILE() {
          return certFile;
        },
        get SHARDMQ_MQTT_TLS_KEY_FILE() {
          return keyFile;
        },
      },
    });
    after(async () => certs?.cleanup());
    const gw = () => (mode === 'single' ? 'shardmq' : 'gateway-1');

    test('a certificate swapped on disk is served to the next TLS and WSS connections; open ones keep working', async () => {
      const ports = listenerPorts(f.broker, gw());
      const ca = readFileSync(certs.caFile);
      const first = fingerprintOf(certs.serverCertFile);
      assert.equal(await servedFingerprint(ports.tls!, ca), first);
      const before = await f.pool.connect(`mqtts://127.0.0.1:${ports.tls}`, { ca, protocolVersion: 5, clientId: `${mode}-reload-old` });
      const got = collect(before);
      await subscribe(before, `${mode}/reload`, { qos: 1 });

      const next = await issueCert(certs, 'renewed', { cn: 'localhost', san: ['IP:127.0.0.1', 'DNS:localhost'] });
      const second = fingerprintOf(next.certFile);
      assert.notEqual(second, first);
      swap(next.keyFile, keyFile);
      swap(next.certFile, certFile);
      assert.equal(await servedEventually(ports.tls!, ca, second), second, 'the next TLS connection gets the renewed certificate');
      assert.equal(await servedFingerprint(ports.wss!, ca), second, 'WSS too');
      assert.match(f.broker.processes.get(gw())!.output(), /"msg":"tls certificate reloaded"/);

      // The connection made before the swap still works, and so does a new one.
      const after = await f.pool.connect(`mqtts://127.0.0.1:${ports.tls}`, { ca, protocolVersion: 5, clientId: `${mode}-reload-new` });
      await publish(after, `${mode}/reload`, 'x', { qos: 1 });
      await waitFor(() => got.length === 1, 'the message on the connection made before the swap');
    });

    test('a key that does not match its certificate is not loaded: the listeners keep the last good one', async () => {
      const ports = listenerPorts(f.broker, gw());
      const ca = readFileSync(certs.caFile);
      const current = await servedFingerprint(ports.tls!, ca);
      const other = await issueCert(certs, 'mismatched', { cn: 'localhost', san: ['IP:127.0.0.1'] });
      const failedBefore = await metricOf(f.broker, gw(), 'shardmq_gateway_events_total', 'what="tls_certificate_reload_failed"');
      swap(other.certFile, certFile); // the old key stays: they do not match
      await waitForMetric(f.broker, gw(), 'shardmq_gateway_events_total', 'what="tls_certificate_reload_failed"', (v) => v > failedBefore);
      assert.equal(await servedFingerprint(ports.tls!, ca), current);
      swap(other.keyFile, keyFile); // the matching key arrives: loaded at the next check
      const third = fingerprintOf(other.certFile);
      assert.equal(await servedEventually(ports.tls!, ca, third), third);
    });
  });
}
