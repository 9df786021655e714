import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startMosquitto } from '../support/mosquitto.js';
import { spawnProcess } from '../support/processes.js';

const node = process.execPath;

/** True while the pid names a live process (a zombie nobody reaps counts as dead). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('spawnProcess', () => {
  test('resolves on the ready line and keeps later output', async () => {
    const p = await spawnProcess(node, ['-e', 'setTimeout(() => { console.log("ready on 42"); console.error("more"); setInterval(() => {}, 1000); }, 50)'], {
      name: 'ready-child',
      readyLine: /^ready on \d+$/,
    });
    try {
      assert.ok(p.pid > 0);
      assert.equal(await p.waitForLine(/^more$/), 'more');
      assert.match(p.output(), /ready on 42\nmore/);
    } finally {
      assert.equal(await p.stop(), null); // ended by SIGTERM: no exit code
    }
  });

  test('rejects with the output when the process exits before the ready line', async () => {
    await assert.rejects(spawnProcess(node, ['-e', 'console.error("bind failed: port taken"); process.exit(3)'], { name: 'early-exit', readyLine: /listening/ }), (err: Error) => {
      assert.match(err.message, /early-exit/);
      assert.match(err.message, /code 3/);
      assert.match(err.message, /bind failed: port taken/);
      return true;
    });
  });

  test('rejects and kills the process when the ready line does not come in time', async () => {
    await assert.rejects(spawnProcess(node, ['-e', 'console.log(`pid ${process.pid}`); setInterval(() => {}, 1000)'], { name: 'silent', readyLine: /ready/, readyTimeoutMs: 3000 }), (err: Error) => {
      // 3 s, not less: on a loaded machine node may not even have printed its pid sooner.
      assert.match(err.message, /no line matching \/ready\/ within 3000 ms/);
      const pid = Number(/pid (\d+)/.exec(err.message)?.[1]);
      assert.ok(pid > 0, err.message);
      assert.equal(isAlive(pid), false);
      return true;
    });
  });

  test('rejects naming the command when it cannot be started', async () => {
    await assert.rejects(spawnProcess('shardmq-no-such-binary', [], { name: 'missing' }), /could not start missing: `shardmq-no-such-binary` not found on PATH/);
  });

  test('waitForLine finds earlier lines and returns each matching line once', async () => {
    const p = await spawnProcess(node, ['-e', 'console.log("tick 1"); console.log("tick 2"); setTimeout(() => console.log("tick 3"), 100)'], { name: 'ticks' });
    assert.equal(await p.waitForLine(/^tick \d$/), 'tick 1');
    assert.equal(await p.waitForLine(/^tick \d$/), 'tick 2');
    assert.equal(await p.waitForLine(/^tick \d$/), 'tick 3');
    assert.equal(await p.exited, 0);
    await assert.rejects(p.waitForLine(/^tick \d$/), /exited with code 0 before printing a line matching/);
  });

  test('stop escalates to SIGKILL when SIGTERM is ignored', async () => {
    const p = await spawnProcess(node, ['-e', 'process.on("SIGTERM", () => console.log("ignoring SIGTERM")); console.log("up"); setInterval(() => {}, 1000)'], {
      name: 'stubborn',
      readyLine: /^up$/,
    });
    assert.equal(await p.stop(300), null);
    assert.match(p.output(), /ignoring SIGTERM/);
    assert.equal(isAlive(p.pid), false);
  });

  test('env is merged over process.env and undefined removes a variable', async () => {
    process.env.SHARDMQ_TEST_INHERITED = 'inherited';
    process.env.SHARDMQ_TEST_REMOVED = 'present';
    try {
      const p = await spawnProcess(node, ['-e', 'console.log([process.env.SHARDMQ_TEST_INHERITED, process.env.SHARDMQ_TEST_SET, process.env.SHARDMQ_TEST_REMOVED ?? "unset"].join(","))'], {
        name: 'env',
        env: { SHARDMQ_TEST_SET: 'set', SHARDMQ_TEST_REMOVED: undefined },
      });
      assert.equal(await p.exited, 0);
      assert.equal(p.output(), 'inherited,set,unset');
    } finally {
      delete process.env.SHARDMQ_TEST_INHERITED;
      delete process.env.SHARDMQ_TEST_REMOVED;
    }
  });
});

describe('a test file that fails', () => {
  let dir = '';
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('prints the output of its processes and kills the ones still running', async () => {
    dir = await mkdtemp(join(tmpdir(), 'shardmq-proc-fixture-'));
    const fixture = join(dir, 'failing-fixture.mjs');
    const helpers = new URL('../support/processes.js', import.meta.url).href;
    await writeFile(
      fixture,
      `import { test } from 'node:test';
import { spawnProcess } from ${JSON.stringify(helpers)};
test('fails while a child runs', async () => {
  const p = await spawnProcess(process.execPath, ['-e', 'console.log("child says hello"); setInterval(() => {}, 1000)'], { name: 'leftover', readyLine: /hello/ });
  console.log('leftover pid ' + p.pid);
  throw new Error('deliberate failure');
});
`,
    );
    // The exit preload as scripts/test.mjs uses it: without it the leftover child would keep
    // the failed file alive, which is the runner's problem to solve, not the helper's.
    const exitPreload = new URL('../../../scripts/test-file-exit.mjs', import.meta.url).pathname;
    const run = await spawnProcess(node, ['--test', '--import', exitPreload, '--test-reporter=spec', fixture], {
      name: 'fixture',
      // NODE_TEST_CONTEXT (set for this file by the runner) would make the fixture skip its tests.
      env: { SHARDMQ_TEST_VERBOSE: undefined, NODE_TEST_CONTEXT: undefined },
    });
    assert.equal(await run.exited, 1);
    const out = run.output();
    assert.match(out, /--- leftover \(.*, running\): last \d+ lines of output ---\s+child says hello\s+--- end of leftover ---/);
    const pid = Number(/leftover pid (\d+)/.exec(out)?.[1]);
    assert.ok(pid > 0, out);
    assert.equal(isAlive(pid), false);
  });
});

describe('startMosquitto', () => {
  test('runs a private broker that carries a publish from mosquitto_pub to mosquitto_sub', async () => {
    const broker = await startMosquitto();
    try {
      const topic = `shardmq/test/${process.pid}`;
      const args = ['-h', broker.host, '-p', String(broker.port), '-t', topic];
      // Retained, so the subscriber started afterwards gets it without racing its SUBSCRIBE
      // (mosquitto_sub block-buffers its output on a pipe, so a SUBACK line is no signal).
      const pub = await spawnProcess('mosquitto_pub', [...args, '-m', 'hello shardmq', '-q', '1', '-r'], { name: 'mosquitto_pub' });
      assert.equal(await pub.exited, 0, pub.output());
      const sub = await spawnProcess('mosquitto_sub', [...args, '-C', '1', '-v', '-W', '10'], { name: 'mosquitto_sub' });
      assert.equal(await sub.waitForLine(/^shardmq\/test\//), `${topic} hello shardmq`);
      assert.equal(await sub.exited, 0);
    } finally {
      await broker.stop();
    }
    assert.equal(isAlive(broker.process.pid), false);
  });
});
