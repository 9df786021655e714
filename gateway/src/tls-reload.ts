import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { Config, Logger } from '../../common/src/index.js';

/** The files a TLS/WSS listener is configured with, read once. */
interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/**
 * The certificate of the TLS and WSS listeners, re-read every `mqtt.tlsReloadCheckMs` so a
 * certificate swapped on disk (cert-manager renewing a Secret) serves the next connections
 * without a restart; connections already open keep theirs. A changed set of files is loaded
 * only if it makes a valid context (a key that does not match its certificate, a half-written
 * file): otherwise the listeners keep the previous certificate, and the next check tries again.
 * Gateway only.
 */
export class TlsCertificates {
  private files: TlsFiles;
  private context: tls.SecureContext;
  private timer?: NodeJS.Timeout;
  private readonly servers: tls.Server[] = [];
  private failedDigest?: string;
  private checking = false;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly count: (what: string) => void,
  ) {
    this.files = readTlsFiles(config);
    this.context = tls.createSecureContext(this.files);
  }

  /** Options for tls.createServer / https.createServer. */
  serverOptions(): tls.TlsOptions {
    const requireClientCert = this.config['mqtt.tlsRequireClientCert'];
    return { ...this.files, requestCert: requireClientCert, rejectUnauthorized: requireClientCert };
  }

  /** The context for TLS sockets made by hand (TLS after a PROXY header). */
  get secureContext(): tls.SecureContext {
    return this.context;
  }

  /** A server whose context follows the files. */
  follow(server: tls.Server): void {
    this.servers.push(server);
  }

  start(): void {
    const every = this.config['mqtt.tlsReloadCheckMs'];
    if (every === 0) return;
    this.timer = setInterval(() => void this.check(), every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Re-reads the files; loads them when they changed and make a valid context. */
  async check(): Promise<boolean> {
    if (this.checking) return false;
    this.checking = true;
    try {
      const c = this.config;
      let next: TlsFiles;
      try {
        const [cert, key, ca] = await Promise.all([readFile(c['mqtt.tlsCertFile']!), readFile(c['mqtt.tlsKeyFile']!), c['mqtt.tlsCaFile'] ? readFile(c['mqtt.tlsCaFile']) : undefined]);
        next = { cert, key, ...(ca ? { ca } : {}) };
      } catch (err) {
        this.failed(`cannot read the certificate files: ${(err as Error).message}`, 'unreadable');
        return false;
      }
      if (same(next, this.files)) return false;
      let context: tls.SecureContext;
      try {
        context = tls.createSecureContext(next);
      } catch (err) {
        // Often a rotation caught between writing the certificate and the key: retried next check.
        this.failed(`the new certificate files do not make a valid TLS context (kept the previous one): ${(err as Error).message}`, digest(next));
        return false;
      }
      this.files = next;
      this.context = context;
      this.failedDigest = undefined;
      for (const s of this.servers) s.setSecureContext(this.serverOptions());
      this.count('tls_certificate_reloaded');
      this.log.info('tls certificate reloaded', describeCert(next.cert));
      return true;
    } finally {
      this.checking = false;
    }
  }

  /** Counted every time; logged once per distinct bad content (not every check). */
  private failed(message: string, what: string): void {
    this.count('tls_certificate_reload_failed');
    if (this.failedDigest === what) return;
    this.failedDigest = what;
    this.log.warn(message, { certFile: this.config['mqtt.tlsCertFile'] });
  }
}

function readTlsFiles(c: Config): TlsFiles {
  const files: TlsFiles = { cert: readFileSync(c['mqtt.tlsCertFile']!), key: readFileSync(c['mqtt.tlsKeyFile']!) };
  if (c['mqtt.tlsCaFile']) files.ca = readFileSync(c['mqtt.tlsCaFile']);
  return files;
}

function same(a: TlsFiles, b: TlsFiles): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca === undefined ? b.ca === undefined : b.ca !== undefined && a.ca.equals(b.ca));
}

function digest(f: TlsFiles): string {
  return createHash('sha256')
    .update(f.cert)
    .update(f.key)
    .update(f.ca ?? '')
    .digest('hex');
}

/** Subject, expiry and fingerprint of the leaf certificate, for the log (never the key). */
function describeCert(pem: Buffer): Record<string, unknown> {
  try {
    const x = new X509Certificate(pem);
    return { subject: x.subject.replace(/\n/g, ', '), validTo: x.validTo, fingerprint256: x.fingerprint256 };
  } catch {
    return {};
  }
}
