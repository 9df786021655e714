import { envelopeReader, envelopeWriter } from './envelope-version.js';

/** Gateway heartbeat on `gatewayHeartbeat`; `stopping` announces a graceful stop. */
export interface Heartbeat {
  gatewayId: string;
  stopping: boolean;
}

/** Router heartbeat on `routerHeartbeat`; `stopping` announces a graceful stop. */
export interface RouterBeat {
  routerId: string;
  stopping: boolean;
}

/** Both heartbeats share one layout: the sender's id, then the stopping flag. */
function encodeBeat(id: string, stopping: boolean): Buffer {
  return envelopeWriter().str(id).bool(stopping).finish();
}

function decodeBeat(data: Uint8Array): [string, boolean] {
  const r = envelopeReader(data);
  return [r.str(), r.bool()];
}

export function encodeHeartbeat(h: Heartbeat): Buffer {
  return encodeBeat(h.gatewayId, h.stopping);
}

export function decodeHeartbeat(data: Uint8Array): Heartbeat {
  const [gatewayId, stopping] = decodeBeat(data);
  return { gatewayId, stopping };
}

export function encodeRouterBeat(b: RouterBeat): Buffer {
  return encodeBeat(b.routerId, b.stopping);
}

export function decodeRouterBeat(data: Uint8Array): RouterBeat {
  const [routerId, stopping] = decodeBeat(data);
  return { routerId, stopping };
}
