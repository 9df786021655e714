import type { ConnState } from './protocol/conn-state.js';

/**
 * The gateway's graceful drain: the open connections are closed at a bounded rate (so a
 * fleet does not stampede the next gateway), each one only once the QoS 1 publishes it
 * already handed to a router are answered (their PUBACKs leave before the DISCONNECT, so a
 * device does not re-send a publish the cluster already took: no duplicate). Gateway only.
 */

export interface DrainOptions<C> {
  /** Connections closed per second. */
  ratePerS: number;
  /** From now on the connection takes no new work (its new publishes wait for the next gateway). */
  startDraining(c: C): void;
  /** Sends the DISCONNECT (MQTT 5) and closes the socket. */
  close(c: C): void;
  /** True once the stop deadline passed or a second signal came: close the rest now. */
  forced(): boolean;
}

const TICK_MS = 100;
const POLL_MS = 20;

/** Resolves once every connection is closed; paced at ratePerS unless forced. */
export async function drainConnections<C extends { state: ConnState }>(all: readonly C[], o: DrainOptions<C>): Promise<void> {
  const perTick = Math.max(1, Math.ceil((o.ratePerS * TICK_MS) / 1000));
  const closing: Promise<void>[] = [];
  for (let i = 0; i < all.length; i += perTick) {
    for (const c of all.slice(i, i + perTick)) closing.push(drainOne(c, o));
    if (i + perTick < all.length && !o.forced()) await sleep(TICK_MS);
  }
  await Promise.all(closing);
}

async function drainOne<C extends { state: ConnState }>(c: C, o: DrainOptions<C>): Promise<void> {
  o.startDraining(c);
  // Every route() settles (answered, or failed after its retries), so this wait is bounded;
  // the stop deadline bounds it too (forced).
  while (c.state.phase === 'connected' && c.state.acks.length > 0 && !o.forced()) await sleep(POLL_MS);
  o.close(c);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
