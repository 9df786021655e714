/** Loopback helpers for starting brokers: free ports and TCP readiness. Only ever 127.0.0.1. */
import { createConnection, createServer } from 'node:net';

export const loopback = '127.0.0.1';

/** A port free right now on 127.0.0.1 (bind 0, read, close); the caller should use it promptly. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, loopback, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('could not read a free port'))));
    });
  });
}

function tryConnect(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: loopback, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * Polls until 127.0.0.1:`port` accepts a TCP connection. Throws after `timeoutMs`, or as soon as
 * `abortReason()` returns a string (e.g. the process that should listen has exited).
 */
export async function waitForTcp(port: number, timeoutMs: number, abortReason: () => string | undefined = () => undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = abortReason();
    if (reason !== undefined) throw new Error(reason);
    if (await tryConnect(port, 500)) return;
    if (Date.now() >= deadline) throw new Error(`nothing accepted connections on ${loopback}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
