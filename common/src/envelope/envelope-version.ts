import { EnvelopeError, Reader, Writer } from './codec.js';

/**
 * The version byte every bus envelope starts with, written and checked here only, so an
 * envelope type added later gets it by using envelopeWriter/envelopeReader. Tiers are upgraded
 * one process at a time, so a reader meets envelopes of other releases; the rule (also in
 * docs/architecture.md, "Envelope versions"):
 *
 * - The byte is `0xC0 | major`, major 1 to 15 (a first byte from 0xD0 up is not a version: the
 *   envelope is malformed). Within one major version a writer may only append optional
 *   fields at the end of an envelope and add envelope kinds; a reader ignores trailing bytes it
 *   does not know and treats absent trailing fields as absent (their defaults).
 * - A reader drops an envelope of another major version: EnvelopeVersionError, which the bus
 *   boundary (bus/handler-guard.ts) counts and logs; it never throws out of a handler.
 * - An envelope without the byte was written by a release before envelope versions: its layout
 *   is major 1's, and it is read as such (stored retained messages are in that form too). Its
 *   first byte is never 0xC0 or above (a kind, a reason code, or the high byte of a short
 *   length or count).
 */

export const ENVELOPE_MAJOR = 1;

const MARK = 0xc0;
const MAJOR_BITS = 0x0f;

/** An envelope of a major version this reader does not speak. */
export class EnvelopeVersionError extends EnvelopeError {
  constructor(readonly major: number) {
    super(`envelope of major version ${major}; this process reads ${ENVELOPE_MAJOR}`);
    this.name = 'EnvelopeVersionError';
  }
}

/** A Writer for a bus envelope, its version byte written. */
export function envelopeWriter(major: number = ENVELOPE_MAJOR): Writer {
  return new Writer().u8(MARK | major);
}

/** A Reader positioned after the version byte (if any); throws EnvelopeVersionError for another major. */
export function envelopeReader(data: Uint8Array): Reader {
  const first = data.length > 0 ? data[0]! : 0;
  if (first < MARK) return new Reader(data); // a release before envelope versions: major 1's layout
  const major = first & MAJOR_BITS;
  if ((first & ~MAJOR_BITS) !== MARK || major === 0) throw new EnvelopeError(`no envelope version in first byte 0x${first.toString(16)}`);
  if (major !== ENVELOPE_MAJOR) throw new EnvelopeVersionError(major);
  return new Reader(data, 1);
}
