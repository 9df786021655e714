import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../support/helm-render.js';
import { ClientPool, qos1RoundTrip } from '../support/mqtt-clients.js';
import { spawnProcess, type ManagedProcess } from '../support/processes.js';

/**
 * `npm start` (scripts/start.mjs) says what it is doing before each slow step, then runs the
 * broker; and what it installs (package.json, package-lock.json) holds nothing only tests need
 * such as the Helm binary of the chart test, which `npm test` fetches on demand.
 */

describe('npm start', () => {
  const pool = new ClientPool();
  let start: ManagedProcess | undefined;

  after(async () => {
    await pool.closeAll();
    await start?.stop(20_000);
  });

  it('prints its build and start steps, then serves MQTT; a SIGTERM stops it cleanly', async () => {
    const env: Record<string, string | undefined> = {};
    for (const k of Object.keys(process.env)) if (k.startsWith('SHARDMQ_')) env[k] = undefined;
    const lines: string[] = [];
    start = await spawnProcess(process.execPath, ['scripts/start.mjs', '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', '--http-host', '127.0.0.1', '--http-port', '0'], {
      name: 'npm-start',
      cwd: ROOT,
      env,
      readyLine: /"msg":"ready"/,
      readyTimeoutMs: 180_000,
    });
    lines.push(...start.output().split('\n'));
    const steps = lines.filter((l) => l.startsWith('[start] '));
    assert.ok(
      steps.some((l) => /^\[start\] building \(tsc -b, incremental\) \.\.\.$/.test(l)),
      steps.join('\n'),
    );
    assert.ok(
      steps.some((l) => /^\[start\] building \(tsc -b, incremental\): done in \d+\.\d s$/.test(l)),
      steps.join('\n'),
    );
    assert.ok(
      steps.some((l) => l.startsWith('[start] starting: shardmq start --mqtt-host 127.0.0.1')),
      steps.join('\n'),
    );
    const ready = lines.find((l) => /"msg":"ready"/.test(l))!;
    const port = Number(/"mqttPort":(\d+)/.exec(ready)?.[1] ?? /"port":(\d+)/.exec(ready)?.[1]);
    assert.ok(port > 0, ready);
    const c = await pool.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'npm-start', connectTimeout: 30_000 });
    await qos1RoundTrip(c, 'npm-start/check');
    await pool.closeAll();
    assert.equal(await start.stop(30_000), 0, start.output());
    start = undefined;
  });

  it('installs no package that only tests need: the Helm binary is not in package.json or package-lock.json', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    for (const section of ['dependencies', 'devDependencies', 'optionalDependencies']) {
      assert.deepEqual(
        Object.keys(pkg[section] ?? {}).filter((n) => /kubectl|helm|aws-cdk/.test(n)),
        [],
        section,
      );
    }
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    assert.deepEqual(
      Object.keys(lock.packages).filter((p) => /kubectl|aws-cdk/.test(p)),
      [],
    );
  });
});
