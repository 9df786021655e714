import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../support/free-port.js';
import { ClientPool } from '../support/mqtt-clients.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { spawnProcess, type ManagedProcess } from '../support/processes.js';

/**
 * The README's "Running the tiers separately" commands, parsed from README.md (so this breaks when
 * the README changes) and started on one machine: a private nats-server instead of `nats-server -js`,
 * `node dist/bin/shardmq.js` instead of `npx shardmq`, and every port in them swapped for a free one.
 * They once all bound the HTTP port 9464, so only the first process came up.
 */

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const CLI = join(ROOT, 'dist', 'bin', 'shardmq.js');
const READY = /"msg":"ready"/;

interface Command {
  env: Record<string, string>;
  background: boolean;
}

/** The shell lines of the first sh block under the "Running the tiers separately" heading. */
function readmeCommands(): { natsLine: string; commands: Command[] } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^### Running the tiers separately$/m)[1];
  assert.ok(section, 'README.md has a "### Running the tiers separately" section');
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'the section has a sh code block');
  const lines = block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const natsLine = lines.shift()!;
  const commands = lines.map((line) => {
    const words = line.split(/\s+/);
    const background = words[words.length - 1] === '&';
    if (background) words.pop();
    const env: Record<string, string> = {};
    while (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? '')) {
      const w = words.shift()!;
      env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
    }
    assert.deepEqual(words, ['npx', 'shardmq', 'start'], line);
    return { env, background };
  });
  return { natsLine, commands };
}

/** Each distinct port number in the commands -> a free port; the NATS URL's port -> the private server. */
async function substitutePorts(commands: Command[], nats: NatsServerHandle): Promise<Map<string, number>> {
  const ports = new Map<string, number>();
  for (const c of commands) {
    for (const [k, v] of Object.entries(c.env)) {
      if (k === 'SHARDMQ_NATS_URL') {
        assert.match(v, /^nats:\/\/127\.0\.0\.1:\d+$/);
        c.env[k] = nats.url;
      } else if (/_PORT$/.test(k)) {
        if (!ports.has(v)) ports.set(v, await freePort());
        c.env[k] = String(ports.get(v));
      }
    }
  }
  return ports;
}

/** Nothing from the test runner's own SHARDMQ_* environment leaks into the commands. */
function exactly(env: Record<string, string>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('SHARDMQ_')) out[k] = undefined;
  return { ...out, ...env };
}

describe('the README commands for running the tiers separately', () => {
  let nats: NatsServerHandle;
  const procs: ManagedProcess[] = [];
  const pool = new ClientPool();
  let commands: Command[] = [];
  before(async () => {
    const parsed = readmeCommands();
    assert.match(parsed.natsLine, /^nats-server -js &$/);
    commands = parsed.commands;
    nats = await startNatsServer({ jetstream: true });
    await substitutePorts(commands, nats);
  });
  after(async () => {
    await pool.closeAll();
    await Promise.all(procs.map((p) => p.stop(5000)));
    await nats?.stop();
  });

  test('all four processes start on one machine, each with its own HTTP port, and carry messages', async () => {
    assert.deepEqual(
      commands.map((c) => c.env.SHARDMQ_ROLES),
      ['router', 'session', 'auth', 'gateway'],
    );
    assert.deepEqual(
      commands.map((c) => c.background),
      [true, true, true, false],
    );
    const httpPorts = commands.map((c) => c.env.SHARDMQ_HTTP_PORT);
    assert.equal(new Set(httpPorts).size, commands.length, 'every command sets its own SHARDMQ_HTTP_PORT');
    for (const c of commands) {
      procs.push(await spawnProcess(process.execPath, [CLI, 'start'], { name: c.env.SHARDMQ_ROLES!, env: exactly(c.env), readyLine: READY, readyTimeoutMs: 60_000 }));
    }
    // "ready" is logged when the roles started; a session process turns /readyz green once its shards
    // are loaded, which takes a while on a busy machine: poll each one, with a generous bound.
    for (const port of httpPorts) {
      let last = '';
      for (let i = 0; i < 600; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        last = `${res.status} ${await res.text()}`;
        if (res.status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.match(last, /^200 /, `/readyz on ${port}`);
    }
    const url = `mqtt://127.0.0.1:${commands[3]!.env.SHARDMQ_MQTT_PORT}`;
    const sub = await pool.connect(url, { clientId: 'readme-sub', protocolVersion: 5, connectTimeout: 60_000 });
    const got = new Promise<string>((resolve) => sub.once('message', (_t, p) => resolve(p.toString())));
    await sub.subscribeAsync('readme/#', { qos: 1 });
    const pub = await pool.connect(url, { clientId: 'readme-pub', protocolVersion: 5, connectTimeout: 60_000 });
    await pub.publishAsync('readme/hello', 'world', { qos: 1 });
    assert.equal(await got, 'world');
  });

  test('a second process on a taken HTTP port stops at start-up naming SHARDMQ_HTTP_PORT', async () => {
    const router = commands[0]!;
    const second = await spawnProcess(process.execPath, [CLI, 'start'], { name: 'router-2', env: exactly(router.env) });
    const line = await second.waitForLine(/start-up failed/, 60_000);
    assert.match(line, /http\.port \(SHARDMQ_HTTP_PORT \/ --http-port\)/);
    assert.match(line, new RegExp(`:${router.env.SHARDMQ_HTTP_PORT} is already in use`));
    assert.equal(await second.exited, 1);
  });
});
