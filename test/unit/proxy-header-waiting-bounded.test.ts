import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { proxyAccept, type ProxyRefusal } from '../../gateway/src/proxy-protocol-accept.js';
import { waitFor } from '../support/mqtt-clients.js';

/**
 * Connections waiting for their PROXY header are bounded (mqtt.maxPendingConnects) and time
 * out (mqtt.proxyHeaderTimeoutMs); a header split over reads is reassembled. Real loopback sockets.
 */

test('past the bound a new connection is refused at once; a silent one is closed at its timeout; a split header works', async () => {
  const refusals: ProxyRefusal[] = [];
  const ready: Array<{ leftover: string; address?: string }> = [];
  const waiting = { count: 0, max: 1 };
  const server = net.createServer((sock) =>
    proxyAccept(sock, {
      trusted: () => true,
      maxBytes: 4096,
      timeoutMs: 300,
      waiting,
      ready: (s, leftover, source) => {
        ready.push({ leftover: leftover.toString(), address: source?.address });
        s.destroy();
      },
      refused: (_s, why) => refusals.push(why),
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const open = () =>
    new Promise<net.Socket>((r) => {
      const s = net.connect(port, '127.0.0.1', () => r(s));
      s.on('error', () => {});
    });
  try {
    const silent = await open();
    await waitFor(() => waiting.count === 1, 'the first connection waiting');
    const second = await open();
    await waitFor(() => refusals.includes('connection_refused_pending_connects'), 'the second refused');
    second.destroy();
    await waitFor(() => refusals.includes('proxy_header_timeout'), 'the silent one timed out', 10_000);
    silent.destroy();
    assert.equal(waiting.count, 0);
    const split = await open();
    split.write('PROXY TCP4 192.0.2.5 ');
    await new Promise((r) => setTimeout(r, 20));
    split.write('10.0.0.1 1000 1883\r\nrest');
    await waitFor(() => ready.length === 1, 'the header');
    assert.deepEqual(ready[0], { leftover: 'rest', address: '192.0.2.5' });
    split.destroy();
  } finally {
    server.close();
  }
});
