import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { cidrMatcher, type Config, LogEveryNth, type Logger } from '../../common/src/index.js';
import { handOver, proxyAccept, setPeer, type ProxyAcceptOptions } from './proxy-protocol-accept.js';
import type { ProxySource } from './proxy-protocol.js';
import { TlsCertificates } from './tls-reload.js';

/**
 * The gateway's listeners: TCP (always), TLS, WebSocket and secure WebSocket (opt-in).
 * Every accepted connection is handed over as a byte stream with the net.Socket surface the
 * connection layer uses (data/close events, write/cork/pause/end/destroy, remote address).
 * TCP and TLS may sit behind a load balancer speaking the PROXY protocol (the client's address
 * becomes the connection's peer); TLS and WSS follow certificate files swapped on disk.
 * Gateway only.
 */

export interface ListenerPorts {
  tcp: number;
  tls?: number;
  ws?: number;
  wss?: number;
}

/** Which listener accepted a connection (logs, the admin API). */
export type ListenerName = 'tcp' | 'tls' | 'ws' | 'wss';

export interface Listeners {
  readonly ports: ListenerPorts;
  /** The TLS/WSS certificates (undefined when neither listener is on). */
  readonly certificates?: TlsCertificates;
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

/** On a WSS connection's stream: the TLS socket it came through. */
const kTlsSocket = Symbol('shardmq.tlsSocket');

/**
 * The client certificate of a TLS or WSS connection, when the handshake verified it against
 * mqtt.tlsCaFile; undefined otherwise (no certificate, not verified, not TLS).
 */
export function verifiedPeerCertificate(socket: net.Socket): tls.PeerCertificate | undefined {
  const t = socket instanceof tls.TLSSocket ? socket : (socket as net.Socket & { [kTlsSocket]?: tls.TLSSocket })[kTlsSocket];
  if (t === undefined || !t.authorized) return undefined;
  const cert = t.getPeerCertificate();
  return cert && Object.keys(cert).length > 0 ? cert : undefined;
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
    // WSS: the TLS socket under the HTTP upgrade holds the client certificate (verifiedPeerCertificate).
    if (req.socket instanceof tls.TLSSocket) Object.assign(stream, { [kTlsSocket]: req.socket });
    onSocket(stream as unknown as net.Socket);
  });
  wss.on('error', (err) => log.error('websocket listener error', { err }));
  return wss;
}

/**
 * TLS on a socket whose first bytes (the PROXY header) were already read: the TLS layer reads
 * through a stream wrapper, since a TLS socket built on the raw handle would read past the
 * bytes put back and lose the client's first TLS record.
 */
function tlsAfterHeader(raw: net.Socket, leftover: Buffer, source: ProxySource | undefined, certs: TlsCertificates, config: Config, onSecure: (s: tls.TLSSocket) => void, log: Logger): void {
  const stream = new Duplex({
    read: () => void raw.resume(),
    write: (chunk: Buffer, _enc, cb) => void raw.write(chunk, cb),
    final: (cb) => {
      raw.end();
      cb();
    },
    destroy: (err, cb) => {
      raw.destroy();
      cb(err);
    },
  });
  raw.on('data', (c: Buffer) => {
    if (!stream.push(c)) raw.pause();
  });
  raw.on('end', () => stream.push(null));
  raw.on('close', () => stream.destroy());
  if (leftover.length > 0) stream.push(leftover);
  raw.resume();
  const requireClientCert = config['mqtt.tlsRequireClientCert'];
  const sock = new tls.TLSSocket(stream, { isServer: true, secureContext: certs.secureContext, requestCert: requireClientCert, rejectUnauthorized: requireClientCert });
  // Unlike tls.Server, a hand-made TLS socket has no handshake deadline of its own.
  const deadline = setTimeout(() => sock.destroy(), config['mqtt.connectTimeoutMs']);
  deadline.unref();
  sock.on('error', (err) => {
    clearTimeout(deadline);
    log.debug('tls handshake failed', { err });
    sock.destroy();
  });
  sock.once('secure', () => {
    clearTimeout(deadline);
    setPeer(sock, source ?? { address: raw.remoteAddress ?? '', port: raw.remotePort ?? 0 });
    sock.setNoDelay(true);
    onSecure(sock);
  });
}

/**
 * `count` counts listener events by name (`accept_failed`, `proxy_header_*`, `tls_certificate_*`).
 * On Linux, libuv never reports EMFILE from accept: it accepts the waiting connections on a
 * spare descriptor and closes them (no busy loop), so a process out of descriptors stays up
 * and the client just sees its connection closed; the gateway's connection cap
 * (connection-admission.ts) keeps it from getting there.
 */
export async function startListeners(config: Config, onSocket: (s: net.Socket, listener: ListenerName) => void, log: Logger, count: (what: string) => void = () => {}): Promise<Listeners> {
  const host = config['mqtt.host'];
  const backlog = config['mqtt.listenBacklog'];
  const servers: net.Server[] = [];
  const wsServers: WebSocketServer[] = [];
  const proxyLog = new LogEveryNth();
  const trusted = cidrMatcher(config['mqtt.proxyProtocolTrustedCidrs']);
  const proxy = (listener: ListenerName, ready: ProxyAcceptOptions['ready']): ProxyAcceptOptions => ({
    trusted,
    maxBytes: config['mqtt.proxyHeaderMaxBytes'],
    timeoutMs: config['mqtt.proxyHeaderTimeoutMs'],
    waiting: { count: 0, max: config['mqtt.maxPendingConnects'] },
    ready,
    refused: (sock, why, detail) => {
      count(why);
      // From the load balancer (or someone posing as one): an operator's problem, so warn, rate-limited.
      const n = proxyLog.hit(why);
      if (n === undefined) return;
      if (why === 'connection_refused_pending_connects') log.warn('refusing new connections: limit reached', { listener, setting: 'mqtt.maxPendingConnects', detail, occurrences: n });
      else log.warn('closed a connection: bad PROXY protocol header', { listener, peer: `${sock.remoteAddress}:${sock.remotePort}`, why, detail, occurrences: n });
    },
  });
  const tcp = config['mqtt.tcpProxyProtocol']
    ? net.createServer({ noDelay: true }, (sock) =>
        proxyAccept(
          sock,
          proxy('tcp', (s, leftover, source) => {
            // The peer first (the connection reads it when made), then the reader (resume is deferred).
            handOver(s, leftover, source);
            onSocket(s, 'tcp');
          }),
        ),
      )
    : net.createServer({ noDelay: true }, (sock) => onSocket(sock, 'tcp'));
  servers.push(tcp);
  await listen(tcp, host, config['mqtt.port'], backlog);
  const ports: ListenerPorts = { tcp: bound(tcp) };
  let certs: TlsCertificates | undefined;
  try {
    if (config['mqtt.tlsEnabled'] || config['mqtt.wssEnabled']) certs = new TlsCertificates(config, log, count);
    if (config['mqtt.tlsEnabled'] && certs) {
      const c = certs;
      let s: net.Server;
      if (config['mqtt.tlsProxyProtocol']) {
        s = net.createServer({ noDelay: true }, (raw) =>
          proxyAccept(
            raw,
            proxy('tls', (r, leftover, source) => tlsAfterHeader(r, leftover, source, c, config, (sock) => onSocket(sock, 'tls'), log)),
          ),
        );
      } else {
        const t = tls.createServer(c.serverOptions(), (sock) => {
          sock.setNoDelay(true);
          onSocket(sock, 'tls');
        });
        t.on('tlsClientError', (err) => log.debug('tls handshake failed', { err }));
        c.follow(t);
        s = t;
      }
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
    if (config['mqtt.wssEnabled'] && certs) {
      const s = https.createServer(certs.serverOptions(), (_req, res) => {
        res.writeHead(426);
        res.end();
      });
      certs.follow(s);
      wsServers.push(attachWebSocket(s, config['mqtt.wsPath'], (sock) => onSocket(sock, 'wss'), log));
      servers.push(s);
      await listen(s, host, config['mqtt.wssPort'], backlog);
      ports.wss = bound(s);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  certs?.start();
  for (const s of servers) {
    s.on('error', (err) => {
      count('accept_failed');
      log.error('listener error', { err });
    });
  }
  return {
    ports,
    certificates: certs,
    close: () => {
      certs?.stop();
      for (const w of wsServers) w.close();
      for (const s of servers) s.close();
    },
  };
}
