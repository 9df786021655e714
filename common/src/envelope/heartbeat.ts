import { Reader, Writer } from './codec.js';

/** Gateway heartbeat on `gatewayHeartbeat`; `stopping` announces a graceful stop. */
export interface Heartbeat {
  gatewayId: string;
  stopping: boolean;
}

export function encodeHeartbeat(h: Heartbeat): Buffer {
  return new Writer().str(h.gatewayId).bool(h.stopping).finish();
}

export function decodeHeartbeat(data: Uint8Array): Heartbeat {
  const r = new Reader(data);
  return { gatewayId: r.str(), stopping: r.bool() };
}
