/**
 * The one error every bus envelope decoder throws on bytes it cannot read: truncated data,
 * a count or length larger than what remains, an unknown kind, an enum value out of range.
 * Subscription handlers (common/src/bus/handler-guard.ts) drop such an envelope with a
 * rate-limited warning and count it; any other exception out of a decoder is a bug.
 */
export class EnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeError';
  }
}
