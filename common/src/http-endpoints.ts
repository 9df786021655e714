import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { envName, flagName } from './config/setting.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/**
 * /metrics (Prometheus), /healthz (the process is alive) and /readyz (every role of this
 * process is ready: listener up, bus connected, shards loaded, database reachable), plus the
 * admin API under /api/ when `api` is given (common/src/admin/admin-api.ts).
 */
export async function startHttpEndpoints(o: {
  host: string;
  port: number;
  metrics: Metrics;
  ready: () => { ok: boolean; detail: Record<string, boolean> };
  log: Logger;
  /** Takes the requests it serves (returns true), e.g. the admin API under /api/. */
  api?: (req: IncomingMessage, res: ServerResponse) => boolean;
}): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/metrics') {
      o.metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': o.metrics.registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    if (url === '/readyz') {
      const r = o.ready();
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ready: r.ok, ...r.detail }) + '\n');
      return;
    }
    if (o.api?.(req, res)) return;
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      // Every process defaults to 9464: the usual cause is a second shardmq on the same machine.
      if (err.code === 'EADDRINUSE') {
        reject(
          new Error(
            `setting http.port (${envName('http.port')} / ${flagName('http.port')}): ${o.host}:${o.port} is already in use; give each process on this machine its own port (0 picks a free one) or set SHARDMQ_HTTP_ENABLED=false`,
            { cause: err },
          ),
        );
      } else reject(err);
    });
    server.listen(o.port, o.host, () => resolve());
  });
  const a = server.address();
  const port = a && typeof a === 'object' ? a.port : 0;
  o.log.info('http endpoints up', { port });
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}
