import type { Message } from '../../common/src/index.js';

/**
 * The message with bytes of its own, for handing over as an object in one process (the memory
 * bus, bus-value.ts). A payload parsed from a socket is a view of the read buffer (up to 64 KiB,
 * shared by every packet of that read): a retained or queued message would keep it all alive.
 * Over NATS the envelope encoding makes that copy; this one replaces it. Gateway only.
 */
export function ownedMessage(m: Message): Message {
  const own: Message = { topic: m.topic, payload: Buffer.from(m.payload), qos: m.qos, retain: m.retain, origin: m.origin };
  const p = m.props;
  if (p !== undefined) own.props = p.correlationData === undefined ? { ...p } : { ...p, correlationData: Buffer.from(p.correlationData) };
  return own;
}
