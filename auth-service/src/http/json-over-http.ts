import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { ChainConfigError, type Config } from '../../../common/src/index.js';

/**
 * One small HTTP(S) client for the auth backends (HTTP auth server, JWKS endpoint), on Node's
 * http/https modules: they take a CA file directly (the built-in fetch cannot without the undici
 * package), keep connections alive, and let us cap the body size and the total time of a request.
 * Runs on the auth-service; never on the message path.
 */

export type HttpErrorKind = 'timeout' | 'connect' | 'tls' | 'status' | 'too-large';

export class HttpCallError extends Error {
  constructor(
    readonly kind: HttpErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HttpCallError';
  }
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface JsonHttpClientOptions {
  /** PEM file of the CA(s) for https URLs (default: the system CAs). Read once, here. */
  caFile?: string;
  timeoutMs: number;
  maxResponseBytes: number;
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)/;

export class JsonHttpClient {
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent: https.Agent;

  /** Throws Error when the CA file cannot be read (the caller names the setting). */
  constructor(private readonly o: JsonHttpClientOptions) {
    this.httpsAgent = new https.Agent({ keepAlive: true, ca: o.caFile ? readFileSync(o.caFile) : undefined });
  }

  /**
   * Sends one request; resolves with any status (the caller decides what a status means), rejects
   * with HttpCallError on timeout (whole request, connect to last byte), connection or TLS
   * failure, or a body larger than maxResponseBytes.
   */
  request(method: 'GET' | 'POST', url: string, o: { body?: unknown; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
    const u = new URL(url);
    const isHttps = u.protocol === 'https:';
    const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body), 'utf8');
    const headers: Record<string, string | number> = { accept: 'application/json', ...o.headers };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    return new Promise<HttpAnswer>((resolve, reject) => {
      let done = false;
      const fail = (e: HttpCallError) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        req.destroy();
        reject(e);
      };
      const req = (isHttps ? https : http).request(u, { method, headers, agent: isHttps ? this.httpsAgent : this.httpAgent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.o.maxResponseBytes) fail(new HttpCallError('too-large', `answer larger than ${this.o.maxResponseBytes} bytes`, res.statusCode));
          else chunks.push(c);
        });
        res.on('error', (e) => fail(classify(e)));
        res.on('end', () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
      });
      const timer = setTimeout(() => fail(new HttpCallError('timeout', `no complete answer within ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
      req.on('error', (e) => fail(classify(e)));
      req.end(payload);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function classify(e: Error & { code?: string }): HttpCallError {
  const code = e.code ?? '';
  if (TLS_CODES.test(code) || /certificate|SSL|TLS/i.test(e.message)) return new HttpCallError('tls', `${code || 'TLS'}: ${e.message}`);
  return new HttpCallError('connect', code ? `${code}: ${e.message}` : e.message);
}

/**
 * The client and headers for the team's HTTP auth API (auth.http.*: timeout, body limit, CA file,
 * Authorization header), shared by CONNECT authentication and per-message authorization.
 * Throws ChainConfigError naming auth.http.caFile when it cannot be read.
 */
export function authApiClient(config: Config): { client: JsonHttpClient; headers: Record<string, string> } {
  let client: JsonHttpClient;
  try {
    client = new JsonHttpClient({ caFile: config['auth.http.caFile'], timeoutMs: config['auth.http.timeoutMs'], maxResponseBytes: config['auth.http.maxResponseBytes'] });
  } catch (e) {
    throw new ChainConfigError(`setting auth.http.caFile (SHARDMQ_AUTH_HTTP_CA_FILE): cannot read ${config['auth.http.caFile']}: ${(e as Error).message}`);
  }
  const auth = config['auth.http.authorization'];
  return { client, headers: auth ? { authorization: auth } : {} };
}
