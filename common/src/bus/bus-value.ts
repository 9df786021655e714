import type { BusMsg } from './bus.js';

/**
 * Handing an envelope over as its value instead of its bytes (the one-process fast path).
 *
 * A sender that has an envelope object publishes `new BusValue(codec, value)` instead of
 * `codec.encode(value)`. The NATS bus encodes it (bytes on the wire, exactly as before); the
 * memory bus hands the object itself to the receiver, which gets it back with `bodyValue` and
 * never decodes. Profiled at ~100k msgs/s in one process, encoding each route, Deliver and
 * gateway-output envelope to bytes and decoding it again took about 37 % of busy time.
 *
 * The contract that makes sharing the object safe: once published, a value (and everything it
 * reaches: messages, payloads, target and item arrays) is never modified again, by the sender
 * or by any receiver; a receiver that needs a changed message makes a copy (the session core
 * does: `{ ...message, retain: false }`). A value also never views a buffer someone reuses or
 * that is much larger than it (a socket read buffer): the gateway copies a payload it hands over.
 */
export interface BusCodec<T> {
  encode(value: T): Uint8Array;
  decode(data: Uint8Array): T;
}

export class BusValue<T> {
  private encoded: Uint8Array | undefined;
  constructor(
    readonly codec: BusCodec<T>,
    readonly value: T,
  ) {}

  /** The value's bytes, encoded once however often they are asked for (retries, several readers). */
  bytes(): Uint8Array {
    return (this.encoded ??= this.codec.encode(this.value));
  }
}

/** What publish and request carry: bytes, or a value its receiver may get without decoding. */
export type BusBody = Uint8Array | BusValue<unknown>;

/** The bytes of a body (NATS, and anything that must put the body on a wire). */
export function bodyBytes(body: BusBody): Uint8Array {
  return body instanceof BusValue ? body.bytes() : body;
}

/** The value a message was published with when it is one of `codec`'s (memory bus); undefined otherwise. */
export function handedOver<T>(msg: BusMsg, codec: BusCodec<T>): T | undefined {
  const v = msg.value;
  return v !== undefined && v.codec === codec ? (v.value as T) : undefined;
}

/**
 * The message's body as `codec`'s value: the object handed over in one process, otherwise its
 * bytes decoded (throws the codec's EnvelopeError on bytes it cannot read: the bus guard
 * counts and drops those, as for any received envelope).
 */
export function bodyValue<T>(msg: BusMsg, codec: BusCodec<T>): T {
  const v = msg.value;
  return v !== undefined && v.codec === codec ? (v.value as T) : codec.decode(msg.data);
}
