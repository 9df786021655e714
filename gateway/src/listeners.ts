import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Config } from '../../common/src/config/settings.js';
import type { Logger } from '../../common/src/log.js';

/**
 * The gateway's listeners: TCP (always), TLS, WebSocket and secure WebSocket (opt-in).
 * Every accepted connection is handed over as a byte stream with the net.Socket surface the
 * connection layer uses (data/close events, write/cork/pause/end/destroy, remote address).
 * Gateway only.
 */

export interface ListenerPorts {
  tcp: number;
  tls?: number;
  ws?: number;
  wss?: number;
}

export interface Listeners {
  readonly ports: ListenerPorts;
  /**
   * Stops accepting on every listener: the listening sockets close now, open connections stay
   * (the gateway drains them). Deliberately not awaiting server.close()'s callback, which
   * fires only once every open connection has ended: a stop awaiting it waits for itself.
   */
  close(): void;
}

function bound(server: net.Server): number {
  const a = server.address();
  return a && typeof a === 'object' ? a.port : 0;
}

function listen(server: net.Server, host: string, port: number, backlog: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function tlsOptions(config: Config): tls.TlsOptions {
  const o: tls.TlsOptions = {
    cert: readFileSync(config['mqtt.tlsCertFile']!),
    key: readFileSync(config['mqtt.tlsKeyFile']!),
    requestCert: config['mqtt.tlsRequireClientCert'],
    rejectUnauthorized: config['mqtt.tlsRequireClientCert'],
  };
  if (config['mqtt.tlsCaFile']) o.ca = readFileSync(config['mqtt.tlsCaFile']);
  return o;
}

/** Serves MQTT over WebSocket on an HTTP(S) server: subprotocol "mqtt" [MQTT-6.0.0-3], binary frames. */
function attachWebSocket(server: http.Server | https.Server, path: string, onSocket: (s: net.Socket) => void, log: Logger): WebSocketServer {
  const wss = new WebSocketServer({
    server,
    path,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  });
  wss.on('connection', (ws, req) => {
    const stream = createWebSocketStream(ws);
    // The connection layer reads the peer from these two fields.
    Object.assign(stream, { remoteAddress: req.socket.remoteAddress, remotePort: req.socket.remotePort });
    onSocket(stream as unknown as net.Socket);
  });
  wss.on('error', (err) => log.error('websocket listener error', { err }));
  return wss;
}

/** Which listener accepted a connection (logs, the admin API). */
export type ListenerName = 'tcp' | 'tls' | 'ws' | 'wss';

/**
 * `count` counts listener events by name (`accept_failed`, ...). On Linux, libuv never reports EMFILE from accept: it
 * accepts the waiting connections on a spare descriptor and closes them (no busy loop), so a
 * process out of descriptors stays up and the client just sees its connection closed; the
 * gateway's connection cap (connection-admission.ts) keeps it from getting there.
 */
export async function startListeners(config: Config, onSocket: (s: net.Socket, listener: ListenerName) => void, log: Logger, count: (what: string) => void = () => {}): Promise<Listeners> {
  const host = config['mqtt.host'];
  const backlog = config['mqtt.listenBacklog'];
  const servers: net.Server[] = [];
  const wsServers: WebSocketServer[] = [];
  const tcp = net.createServer({ noDelay: true }, (sock) => onSocket(sock, 'tcp'));
  servers.push(tcp);
  await listen(tcp, host, config['mqtt.port'], backlog);
  const ports: ListenerPorts = { tcp: bound(tcp) };
  try {
    if (config['mqtt.tlsEnabled']) {
      const s = tls.createServer(tlsOptions(config), (sock) => {
        sock.setNoDelay(true);
        onSocket(sock, 'tls');
      });
      s.on('tlsClientError', (err) => log.debug('tls handshake failed', { err }));
      servers.push(s);
      await listen(s, host, config['mqtt.tlsPort'], backlog);
      ports.tls = bound(s);
    }
    if (config['mqtt.wsEnabled']) {
      const s = http.createServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' });
        res.end('MQTT over WebSocket: upgrade required\n');
      });
      wsServers.push(attachWebSocket(s, config['mqtt.wsPath'], (sock) => onSocket(sock, 'ws'), log));
      servers.push(s);
      await listen(s, host, config['mqtt.wsPort'], backlog);
      ports.ws = bound(s);
    }
    if (config['mqtt.wssEnabled']) {
      const s = https.createServer(tlsOptions(config), (_req, res) => {
        res.writeHead(426);
        res.end();
      });
      wsServers.push(attachWebSocket(s, config['mqtt.wsPath'], (sock) => onSocket(sock, 'wss'), log));
      servers.push(s);
      await listen(s, host, config['mqtt.wssPort'], backlog);
      ports.wss = bound(s);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  for (const s of servers) {
    s.on('error', (err) => {
      count('accept_failed');
      log.error('listener error', { err });
    });
  }
  return {
    ports,
    close: () => {
      for (const w of wsServers) w.close();
      for (const s of servers) s.close();
    },
  };
}
