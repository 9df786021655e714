import type { Bus } from './bus.js';

/**
 * Calls `fn` each time the bus connection is back after an interruption (NATS only: the memory
 * bus is never interrupted). What was sent through the NATS node that went away may be lost, so
 * gateways announce the gap and session owners resend (docs/sharding.md, "A NATS cluster").
 */
export function onBusReconnected(bus: Bus, fn: () => void): void {
  let interrupted = false;
  bus.onStatus?.((status) => {
    if (status === 'disconnected' || status === 'reconnecting') interrupted = true;
    else if (status === 'connected' && interrupted) {
      interrupted = false;
      fn();
    }
  });
}
