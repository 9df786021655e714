/**
 * One generator process of the reconnect storm (reconnect-storm.ts forks one per 10,000 devices: a
 * process here may hold at most 20,000 descriptors). On `connect` it opens the sockets of its slice
 * of devices all at once, with no concurrency limit (a fleet does not queue politely after a gateway
 * loss), each CONNECT carrying the device's user name and password, device i to gateway i mod G;
 * it answers with CONNECT -> CONNACK times and failures by reason. On `disconnect` it sends DISCONNECT
 * on every socket and closes it.
 *
 * Who may run it: reconnect-storm.ts only, as a child process with an IPC channel.
 */
import type { Socket } from 'node:net';
import { DISCONNECT, rawConnect } from '../raw-mqtt.js';
import { wallClockMs } from '../payload-stamp.js';
import { deviceCredentials } from './reconnect-storm-devices.js';

export type GeneratorCommand = { cmd: 'connect'; urls: readonly string[]; from: number; to: number; timeoutMs: number; keepaliveS: number } | { cmd: 'disconnect' };

export type GeneratorReply =
  | {
      kind: 'connected';
      /** CONNECT (socket opened) -> CONNACK per accepted device, ms. */
      latenciesMs: number[];
      /** Wall-clock ms of the first socket opened and of the last CONNACK (or failure). */
      startedAtMs: number;
      lastAtMs: number;
      connected: number;
      failures: Record<string, number>;
    }
  | { kind: 'disconnected' };

let sockets: Socket[] = [];

function send(reply: GeneratorReply): void {
  process.send?.(reply);
}

async function connectAll(c: Extract<GeneratorCommand, { cmd: 'connect' }>): Promise<void> {
  const latenciesMs: number[] = [];
  const failures: Record<string, number> = {};
  const startedAtMs = wallClockMs();
  let lastAtMs = startedAtMs;
  const opened: Socket[] = [];
  const one = async (i: number) => {
    const t = wallClockMs();
    const d = deviceCredentials(i);
    try {
      opened.push(await rawConnect(c.urls[i % c.urls.length]!, d.clientId, c.keepaliveS, c.timeoutMs, d));
      latenciesMs.push(wallClockMs() - t);
    } catch (err) {
      // Messages carry no device names (connect ECONNRESET, CONNACK refused (20020003), no CONNACK within ...).
      const reason = String((err as Error).message ?? err)
        .replace(/127\.0\.0\.1:\d+/, 'gateway')
        .slice(0, 60);
      failures[reason] = (failures[reason] ?? 0) + 1;
    }
    lastAtMs = Math.max(lastAtMs, wallClockMs());
  };
  const all: Promise<void>[] = [];
  for (let i = c.from; i < c.to; i++) all.push(one(i));
  await Promise.all(all);
  sockets = opened;
  send({ kind: 'connected', latenciesMs, startedAtMs, lastAtMs, connected: opened.length, failures });
}

async function disconnectAll(): Promise<void> {
  const closing = sockets.map(
    (s) =>
      new Promise<void>((resolve) => {
        if (s.destroyed) return resolve();
        s.once('close', () => resolve());
        s.end(DISCONNECT);
        setTimeout(() => s.destroy(), 5000).unref();
      }),
  );
  sockets = [];
  await Promise.all(closing);
  send({ kind: 'disconnected' });
}

process.on('message', (m: GeneratorCommand) => {
  if (m.cmd === 'connect') void connectAll(m);
  else void disconnectAll();
});
// The parent went away (crash, Ctrl-C): do not leave sockets or this process behind.
process.on('disconnect', () => process.exit(0));
