/**
 * `buf.subarray(at, at + n)`: a Buffer sharing `buf`'s memory, made directly on its ArrayBuffer
 * (Buffer's subarray goes through the species constructor: about twice the cost, on the path of
 * every busy connection's turn output). Anyone may call it.
 */
export function byteView(buf: Uint8Array, at: number, n: number): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + at, n);
}
