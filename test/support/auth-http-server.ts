import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A small real HTTP(S) server standing in for a team's auth API and JWKS endpoint in tests of the
 * HTTP and JWT backends. Routes answer by path; every request is recorded (method, path, headers,
 * parsed JSON body). `stop()` closes the port (connections refused, the "server down" case) and
 * `start()` listens again on the same port. Who may call: tests only.
 */

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: unknown;
}

/** What a route answers: JSON (`json`), raw text (`text`), or nothing at all (`hang`: the timeout case). */
export interface RouteAnswer {
  status?: number;
  headers?: Record<string, string>;
  json?: unknown;
  text?: string;
  hang?: boolean;
}

export type Route = (body: unknown, req: http.IncomingMessage) => RouteAnswer;

export interface AuthHttpServer {
  readonly port: number;
  /** `http(s)://127.0.0.1:<port><path>` */
  url(path: string): string;
  readonly requests: RecordedRequest[];
  /** Requests so far to one path. */
  count(path: string): number;
  route(path: string, r: Route): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startAuthHttpServer(o: { tls?: { certFile: string; keyFile: string } } = {}): Promise<AuthHttpServer> {
  const routes = new Map<string, Route>();
  const requests: RecordedRequest[] = [];
  const hanging = new Set<http.ServerResponse>();
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        /* recorded as text */
      }
      const path = (req.url ?? '/').split('?')[0]!;
      requests.push({ method: req.method ?? '', path, headers: req.headers, body });
      const r = routes.get(path);
      const a: RouteAnswer = r ? r(body, req) : { status: 404, text: 'no route' };
      if (a.hang) {
        hanging.add(res);
        return;
      }
      const payload = a.json !== undefined ? JSON.stringify(a.json) : (a.text ?? '');
      res.writeHead(a.status ?? 200, { 'content-type': a.json !== undefined ? 'application/json' : 'text/plain', ...a.headers });
      res.end(payload);
    });
  };
  const make = () => (o.tls ? https.createServer({ cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile) }, handle) : http.createServer(handle));
  let server = make();
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(0);
  const scheme = o.tls ? 'https' : 'http';
  return {
    port,
    url: (path) => `${scheme}://127.0.0.1:${port}${path}`,
    requests,
    count: (path) => requests.filter((r) => r.path === path).length,
    route: (path, r) => routes.set(path, r),
    async start() {
      server = make();
      await listen(port);
    },
    async stop() {
      for (const res of hanging) res.destroy();
      hanging.clear();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
