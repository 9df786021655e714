import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IDisconnectPacket } from 'mqtt-packet';
import { adminPort } from '../support/admin-http.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { MODES } from '../support/broker.js';
import { collect, subscribe, waitFor } from '../support/mqtt-clients.js';
import { shardmqCli } from '../support/shardmq-cli.js';

/**
 * `shardmq clients show|kick`, `shardmq cluster status` and `shardmq publish`, run as real
 * processes against a running broker's admin API (in a cluster: the auth process's port).
 */

const TOKEN = 'cli-admin-token';

for (const mode of MODES) {
  describe(`shardmq clients / cluster / publish (${mode})`, () => {
    const f = brokerFixture(mode, { env: { SHARDMQ_ADMIN_TOKEN: TOKEN } });
    const cli = (args: string[], env: Record<string, string> = { SHARDMQ_ADMIN_TOKEN: TOKEN }) => shardmqCli([...args, '--url', `http://127.0.0.1:${adminPort(f.broker.httpPorts)}`], env);
    const id = (s: string) => `${mode}-cli-${s}`;

    test('clients show prints the session as JSON; exit 1 for an unknown client', async () => {
      await f.pool.connect(f.broker.url(0), { protocolVersion: 5, clientId: id('show'), keepalive: 30 });
      const r = await cli(['clients', 'show', id('show')]);
      assert.equal(r.code, 0, r.out);
      const j = JSON.parse(r.stdout);
      assert.equal(j.connected, true);
      assert.equal(j.keepaliveS, 30);
      assert.equal(j.protocolLevel, 5);
      const none = await cli(['clients', 'show', id('nobody')]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no session/);
    });

    test('clients kick disconnects with 0x98; --session discards the session', async () => {
      const c = await f.pool.connect(f.broker.url(0), { protocolVersion: 5, clientId: id('kick'), clean: false, properties: { sessionExpiryInterval: 300 } });
      let disconnect: IDisconnectPacket | undefined;
      c.on('disconnect', (p) => (disconnect = p));
      const r = await cli(['clients', 'kick', id('kick')]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.stdout, /disconnected/);
      await waitFor(() => disconnect !== undefined, 'DISCONNECT');
      assert.equal(disconnect!.reasonCode, 0x98);
      const s = await cli(['clients', 'kick', id('kick'), '--session']);
      assert.equal(s.code, 0, s.out);
      assert.match(s.stdout, /was not connected, session discarded/);
      assert.equal((await cli(['clients', 'show', id('kick')])).code, 1);
    });

    test('cluster status lists the tiers and shard owners (text and --json)', async () => {
      const r = await cli(['cluster', 'status']);
      assert.equal(r.code, 0, r.out);
      for (const tier of ['gateway', 'session', 'router', 'auth']) assert.match(r.stdout, new RegExp(`^${tier}\\s+[1-9]`, 'm'));
      assert.match(r.stdout, /^shards\s+\d+\/1024 owned/m);
      const j = await cli(['cluster', 'status', '--json']);
      assert.equal(j.code, 0, j.out);
      assert.equal(JSON.parse(j.stdout).shards.total, 1024);
    });

    test('publish -t -m -q -r reaches subscribers and stores the retained message', async () => {
      const sub = await f.pool.connect(f.broker.url(0), { protocolVersion: 4, clientId: id('sub') });
      await subscribe(sub, `${mode}/cli/#`, { qos: 1 });
      const got = collect(sub);
      const r = await cli(['publish', '-t', `${mode}/cli/a`, '-m', 'héllo', '-q', '1', '-r']);
      assert.equal(r.code, 0, r.out);
      await waitFor(() => got.length === 1, 'the message');
      assert.equal(got[0]!.payload.toString('utf8'), 'héllo');
      const late = await f.pool.connect(f.broker.url(0), { protocolVersion: 4, clientId: id('late') });
      const kept = collect(late);
      await subscribe(late, `${mode}/cli/a`, { qos: 1 });
      await waitFor(() => kept.length === 1, 'the retained message');
      assert.equal(kept[0]!.packet.retain, true);
      const bad = await cli(['publish', '-t', 'a/+', '-m', 'x']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /topic/);
    });

    test('a missing or wrong token exits 1 saying so, without printing the token', async () => {
      const none = await cli(['cluster', 'status'], {});
      assert.equal(none.code, 1);
      assert.match(none.stderr, /SHARDMQ_ADMIN_TOKEN/);
      const wrong = await cli(['cluster', 'status'], { SHARDMQ_ADMIN_TOKEN: 'wrong-secret-value' });
      assert.equal(wrong.code, 1);
      assert.doesNotMatch(wrong.out, /wrong-secret-value/);
      const flag = await cli(['cluster', 'status', '--token', TOKEN], {});
      assert.equal(flag.code, 0, flag.out);
    });

    test('usage errors exit 2', async () => {
      for (const args of [['clients'], ['clients', 'show'], ['clients', 'show', 'a', '--bogus'], ['publish', '-t', 'x'], ['publish', '-t', 'x', '-m', 'y', '-q', '3'], ['cluster', 'explode']]) {
        assert.equal((await cli(args)).code, 2, args.join(' '));
      }
    });
  });
}
