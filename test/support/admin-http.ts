import http from 'node:http';

export interface AdminResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: any;
}

/** One HTTP request to a broker's admin API (tests only). Never rejects on an HTTP status. */
export function adminRequest(port: number, method: string, path: string, o: { token?: string; body?: unknown } = {}): Promise<AdminResponse> {
  const data = o.body === undefined ? undefined : Buffer.from(typeof o.body === 'string' ? o.body : JSON.stringify(o.body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          ...(o.token !== undefined ? { authorization: `Bearer ${o.token}` } : {}),
          ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** The process whose admin API a test uses: in a cluster the auth process (it holds neither the session nor the connection). */
export function adminPort(httpPorts: ReadonlyMap<string, number>): number {
  const p = httpPorts.get('shardmq') ?? httpPorts.get('auth') ?? [...httpPorts.values()][0];
  if (p === undefined) throw new Error('no HTTP port known');
  return p;
}
