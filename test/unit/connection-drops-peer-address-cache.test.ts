import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { Connection, connectionContext } from '../../gateway/src/connection.js';

type PeerCached = Socket & { _peername?: object };

// Memory per idle connection: the connection copies the peer into its state and drops the
// socket's cached peer address (about 90 bytes each); reading remoteAddress still works.
test('a connection keeps its peer in its state, not in the socket cache, and remoteAddress still answers', async () => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = connect({ host: '127.0.0.1', port });
  try {
    const [accepted] = (await once(server, 'connection')) as [PeerCached];
    if (client.connecting) await once(client, 'connect');
    const c = new Connection(accepted, 1, 0, connectionContext({ onPacket: () => {}, onBad: () => {}, onFault: () => {} }));
    assert.equal(c.state.peer, `127.0.0.1:${client.localPort}`);
    assert.equal(accepted._peername, undefined);
    // Node caches the peer in _peername when asked again (so dropping it is what saves the memory).
    assert.equal(accepted.remoteAddress, '127.0.0.1');
    assert.equal(accepted.remotePort, client.localPort);
    assert.ok(Object.hasOwn(accepted, '_peername') && accepted._peername !== undefined, 'net.Socket no longer caches its peer in _peername');
    accepted.destroy();
  } finally {
    client.destroy();
    server.close();
  }
});
