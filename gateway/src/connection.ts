import type { Socket } from 'node:net';
import mqtt from 'mqtt-packet';
import { FrameGuard } from './frame-guard.js';
import { parsePlainPuback } from './protocol/parse-plain-puback.js';
import { parsePlainPublish, wholePacketEnd } from './protocol/parse-plain-publish.js';
import { createConnState, type ConnState } from './protocol/conn-state.js';
import type { ConnTracer } from './client-trace.js';
import { type GatewayTraffic, UNCOUNTED } from './gateway-traffic.js';
import type { ConnectReadsPerTurn, HeldReader } from './connect-reads-per-turn.js';
import type { TurnOutput } from './protocol/turn-output.js';
import { byteView } from './protocol/byte-view.js';

/** Signature of the per-packet handler (shared by every connection of a gateway). */
export type OnPacket = (c: Connection, p: mqtt.Packet) => void;
export type OnBad = (c: Connection, why: 'too-large' | 'malformed', err?: Error) => void;
export type OnFault = (c: Connection, err: unknown) => void;

/**
 * What every connection of one listener shares (one object per listener, so an idle connection
 * holds one pointer to it instead of a field for each): the listener's name, settings, the
 * gateway's traffic counters and its packet, bad-input and fault handlers.
 */
export interface ConnectionContext {
  /** The listener that accepted the connections (tcp, tls, ws, wss). */
  readonly listener: string;
  readonly mountpoint: string;
  readonly maxPacketBytes: number;
  /** Outbound bytes buffered in a socket before reading from it stops (backpressure). */
  readonly highWaterBytes: number;
  readonly traffic: GatewayTraffic;
  readonly onPacket: OnPacket;
  readonly onBad: OnBad;
  readonly onFault: OnFault;
  /** The gateway's bound on the time a turn spends on connections without CONNECT (mqtt.connectWorkPerTurnMs); undefined: none. */
  readonly connectReads?: ConnectReadsPerTurn;
}

/** The Connection a socket belongs to, so one shared 'data' listener serves every socket. */
const kConnection = Symbol('shardmq.connection');
type OwnedSocket = Socket & { [kConnection]?: Connection };

/**
 * One client socket: byte framing guard, decoding, corked writes and backpressure.
 * The only place (with gateway-service.ts) that touches sockets.
 *
 * Memory per idle connection decides how many devices a gateway holds, so a connection owns
 * no parser: the frame guard finds packet boundaries, whole packets are decoded by one
 * mqtt-packet parser shared by every connection of the process (decoderFor), and only the
 * raw bytes of an unfinished packet are kept per connection. No listener is a closure over
 * the connection: the shared ones find it on the socket. What all connections of a listener share
 * is one ConnectionContext, not fields of each connection.
 */
export class Connection implements HeldReader, TurnOutput {
  readonly state: ConnState;
  private readonly guard = new FrameGuard();
  /** What mqtt-packet needs to know of this connection's CONNECT (protocol version, bridge mode). */
  private settings: ParserSettings = NO_CONNECT;
  /** Bytes of an unfinished packet (from its first byte on), until the chunk that completes it. */
  private partial: Buffer[] | undefined;
  /**
   * What this event-loop turn queued, sent by uncorkNow (see write); outAt says which: nothing,
   * the one packet queued (as given), the packets gathered (a list), or this turn's region of the
   * turn slab (ours, outLen bytes used of it).
   */
  private out: Buffer | Buffer[] | undefined;
  private outLen = 0;
  private outAt = NOTHING;
  /** Reading stopped because the client does not read what we write (see uncorkNow). */
  private paused = false;
  /** Reading stopped until this time: a publisher slowed down (holdInput). */
  private heldUntil = 0;
  private holdTimer: NodeJS.Timeout | undefined;
  /** Set on bad input or a fault: the rest of the input is ignored while the socket closes. */
  private refused = false;
  /** Set once the owner has been told (or need not be told) the connection is gone. */
  sessionNotified = false;
  /** When CONNACK was sent (ms since the epoch); undefined before. */
  connectedAt?: number;
  /** Why the gateway closed it (the disconnect log line); undefined when the client or the network did. */
  closedBy?: { reason: string; rc?: number };
  /** Set while a client trace covers this connection (client-trace.ts): every packet in and out is logged. */
  tracer?: ConnTracer;

  constructor(
    readonly socket: Socket,
    id: number,
    now: number,
    private readonly ctx: ConnectionContext,
  ) {
    this.state = createConnState(id, `${socket.remoteAddress}:${socket.remotePort}`, ctx.mountpoint, now);
    dropPeerCache(socket);
    (socket as OwnedSocket)[kConnection] = this;
    socket.on('data', onSocketData);
  }

  /** The listener that accepted it (tcp, tls, ws, wss). */
  get listener(): string {
    return this.ctx.listener;
  }

  /** For the shared parser (decoderFor). */
  get parserSettings(): ParserSettings {
    return this.settings;
  }

  /** The connection of a socket accepted by a gateway (shared socket listeners use it). */
  static of(socket: Socket): Connection | undefined {
    return (socket as OwnedSocket)[kConnection];
  }

  /** After bad input nothing more of this connection's input is used (the rest of the chunk included). */
  private bad(why: 'too-large' | 'malformed', err?: Error): void {
    this.refused = true;
    this.ctx.onBad(this, why, err);
  }

  /** Runs on the shared parser's 'packet' event while it decodes for this connection. */
  decoded(p: mqtt.Packet, read: number): void {
    if (this.refused) return;
    if (!fieldsFillPacket(p, read)) {
      this.bad('malformed', new Error(`${p.cmd}: fields do not fill the Remaining Length ${p.length} (read ${read})`));
      return;
    }
    this.ctx.onPacket(this, p);
  }

  /** Runs on the shared parser's 'error' event while it decodes for this connection. */
  decodeFailed(err: Error): void {
    if (!this.refused) this.bad('malformed', err);
  }

  /** One read from the socket. */
  received(chunk: Buffer): void {
    this.ctx.traffic.bytesIn += chunk.length;
    if (this.refused || this.state.phase === 'closed') return;
    if (this.state.phase === 'new' && this.ctx.connectReads !== undefined && !this.ctx.connectReads.admit(this, chunk)) {
      // No room this turn for another CONNECT: read nothing more until the held chunk is handled.
      this.socket.pause();
      return;
    }
    this.handle(chunk);
  }

  /** A chunk held by connectReads, handled in a turn with room; reading resumes after it. */
  readHeld(chunk: Buffer): void {
    if (this.refused || this.state.phase === 'closed') return;
    this.handle(chunk);
    if (!this.ctx.connectReads!.holds(this)) this.resumeIfFree();
  }

  private handle(chunk: Buffer): void {
    // Fault isolation: anything thrown while handling this read (framing, parsing, every
    // handler reached synchronously from it) closes this connection only.
    try {
      const verdict = this.guard.scan(chunk, this.ctx.maxPacketBytes);
      if (verdict !== 'ok') {
        this.bad(verdict);
        return;
      }
      this.parse(chunk);
    } catch (err) {
      this.refused = true;
      this.ctx.onFault(this, err);
    }
  }

  /**
   * Whole PUBLISH packets without properties and short PUBACKs at the front of a chunk are decoded
   * here (parse-plain-publish.ts, parse-plain-puback.ts: the same packet objects, without
   * mqtt-packet's per-step overhead);
   * from the first other packet on, the rest of the chunk goes to mqtt-packet, exactly as it
   * would have without the fast path. Only at a packet boundary (no unfinished packet kept).
   *
   * mqtt-packet is given exactly the bytes a parser of this connection alone would hold (the
   * unfinished packet, then the chunk), so it decodes and refuses the same packets; the bytes
   * of an unfinished packet at the end are kept raw and decoded again when it is complete
   * (its fixed header was already checked when it began).
   */
  private parse(chunk: Buffer): void {
    const g = this.guard;
    const partial = this.partial;
    if (partial !== undefined) {
      if (g.lastEnd < 0) {
        partial.push(chunk); // still unfinished: nothing new to decode
        return;
      }
      this.partial = undefined;
      partial.push(chunk);
      this.decode(partial, g.midPacket ? chunk.subarray(g.lastEnd) : undefined);
      return;
    }
    const n = chunk.length;
    let pos = 0;
    while (pos < n) {
      const end = wholePacketEnd(chunk, pos);
      if (end < 0) break;
      const v5 = this.settings.protocolVersion === 5;
      const p = parsePlainPublish(chunk, pos, end, v5) ?? parsePlainPuback(chunk, pos, end, v5);
      if (p === undefined) break;
      pos = end;
      this.ctx.onPacket(this, p);
      if (this.refused) return;
    }
    if (pos < n) this.decode([pos === 0 ? chunk : chunk.subarray(pos)], g.midPacket ? chunk.subarray(g.lastEnd < 0 ? 0 : g.lastEnd) : undefined);
  }

  /** Decodes `pieces` with a shared parser; `tail` (the unfinished packet at their end) is kept for the next read. */
  private decode(pieces: Buffer[], tail: Buffer | undefined): void {
    const d = decoderFor(this);
    let clean = false;
    try {
      for (let i = 0; i < pieces.length && !this.refused; i++) d.parser.parse(pieces[i]!);
      clean = tail === undefined && !this.refused;
    } finally {
      const internals = d.parser as unknown as ParserInternals;
      // mqtt-packet keeps the CONNECT it decoded as its settings: keep only what it reads from them.
      if (internals.settings !== this.settings) this.settings = settingsOf(internals.settings);
      // An unfinished packet, an error or a throw leaves the parser mid-packet: start it afresh
      // (_resetState leaves the read position, which the length decoder reads: reset it too).
      if (!clean) {
        internals._resetState();
        internals._pos = 0;
      }
      d.conn = undefined;
    }
    if (tail !== undefined && !this.refused) this.partial = [tail];
  }
  /**
   * Queues a packet. Everything written in one event-loop turn (every socket read of one poll
   * phase, and the bus deliveries they cause) leaves in one socket write in the check phase:
   * one syscall per busy subscriber per turn instead of one per publisher read. The first packet
   * of a turn is kept as given (a fan-out's shared Buffer is written as is), the next few are
   * gathered and copied together at the write, and from GATHER_MAX packets on (a fan-in's
   * subscriber) they go into a region of the turn slab, where they are also encoded (room).
   */
  write(bytes: Buffer): void {
    const s = this.socket;
    if (s.destroyed || !s.writable) return;
    const n = bytes.length;
    const at = this.outAt;
    if (at === NOTHING) {
      this.out = bytes;
      this.queue(AS_GIVEN);
    } else {
      const buf = at === AS_GIVEN ? undefined : this.room(n);
      if (buf !== undefined) buf.set(bytes, this.outLen);
      else if (at === AS_GIVEN) {
        this.out = [this.out as Buffer, bytes];
        this.outAt = GATHERED;
      } else if (at === GATHERED) (this.out as Buffer[]).push(bytes);
      else {
        // Past MAX_CONCAT_BYTES: the region and what follows go as a list (one corked write).
        this.out = [byteView(this.out as Buffer, 0, this.outLen), bytes];
        this.outAt = GATHERED;
      }
    }
    this.outLen += n;
    this.sent(bytes, 0, n);
  }

  get queuedBytes(): number {
    return this.outLen;
  }

  get outEnd(): number {
    return this.outLen;
  }

  /**
   * This turn's region, once the connection has GATHER_MAX packets queued: reserved in the
   * shared slab (turnSlab) at twice what it needs; while it is the slab's last region it grows in
   * place (a fan-in's subscriber: no copy however many packets come), else the bytes queued so
   * far move once to a new region, twice the size again. Undefined before (the caller then writes
   * a Buffer of its own) and past MAX_CONCAT_BYTES.
   */
  room(n: number): Buffer | undefined {
    const at = this.outAt;
    if (at !== OWN && (at !== GATHERED || (this.out as Buffer[]).length < GATHER_MAX)) return undefined;
    const s = this.socket;
    if (s.destroyed || !s.writable) return undefined;
    const len = this.outLen;
    const need = len + n;
    if (need > MAX_CONCAT_BYTES) return undefined;
    if (at === OWN) {
      const region = this.out as Buffer;
      if (need <= region.length) return region;
      const start = region.byteOffset - turnSlab.byteOffset;
      if (region.buffer === turnSlab.buffer && start + region.length === turnSlabUsed && start + 2 * need <= turnSlab.length) {
        turnSlabUsed = start + 2 * need;
        this.out = byteView(turnSlab, start, 2 * need);
        return this.out;
      }
    }
    const size = Math.max(2 * need, MIN_REGION_BYTES);
    if (turnSlabUsed + size > turnSlab.length) {
      turnSlab = Buffer.allocUnsafe(Math.max(TURN_SLAB_BYTES, 2 * size));
      turnSlabUsed = 0;
    }
    const region = byteView(turnSlab, turnSlabUsed, size);
    turnSlabUsed += size;
    if (at === OWN) region.set(byteView(this.out as Buffer, 0, len));
    else {
      const list = this.out as Buffer[];
      let pos = 0;
      for (let i = 0; i < list.length; i++) {
        region.set(list[i]!, pos);
        pos += list[i]!.length;
      }
    }
    this.out = region;
    this.outAt = OWN;
    return region;
  }

  committed(n: number): void {
    const at = this.outLen;
    this.outLen = at + n;
    this.sent(this.out as Buffer, at, n);
  }

  /** Counts a packet out (and traces it). */
  private sent(buf: Buffer, at: number, n: number): void {
    if (this.tracer !== undefined) this.tracer.bytesOut(buf.subarray(at, at + n));
    this.ctx.traffic.packetOut(buf[at]!);
  }

  private queue(at: number): void {
    if (this.outAt === NOTHING) {
      if (dirty.length === 0) setImmediate(flushAll);
      dirty.push(this);
    }
    this.outAt = at;
  }

  /** True when the socket is far behind: QoS 0 deliveries are dropped rather than buffered without bound. */
  overloaded(): boolean {
    return this.socket.writableLength + this.outLen > 4 * this.ctx.highWaterBytes;
  }

  /** Sends what write() queued now (before end(), and once per turn from flushAll). */
  uncorkNow(): void {
    const at = this.outAt;
    const out = this.out;
    const bytes = this.outLen;
    this.out = undefined;
    this.outLen = 0;
    this.outAt = NOTHING;
    if (at === NOTHING || out === undefined) return;
    if (at === OWN) {
      const region = out as Buffer;
      // The slab's last region gives back what it did not use (never handed to anyone).
      if (region.buffer === turnSlab.buffer && region.byteOffset - turnSlab.byteOffset + region.length === turnSlabUsed) turnSlabUsed -= region.length - bytes;
    }
    const s = this.socket;
    if (s.destroyed || !s.writable) return;
    this.ctx.traffic.bytesOut += bytes;
    if (at === AS_GIVEN) s.write(out as Buffer);
    else if (at === GATHERED) {
      const list = out as Buffer[];
      if (bytes <= MAX_CONCAT_BYTES) s.write(Buffer.concat(list, bytes));
      else {
        // Large payloads: not worth a copy; cork so they still leave in one writev.
        s.cork();
        for (let i = 0; i < list.length; i++) s.write(list[i]!);
        s.uncork();
      }
    } else {
      const region = byteView(out as Buffer, 0, bytes);
      // A socket with a backlog keeps what it is given until it drains: a copy, so that a slow
      // client does not keep a whole slab alive for its few bytes.
      s.write(s.writableLength === 0 ? region : Buffer.from(region));
    }
    // Backpressure: stop reading from a client we cannot write to fast enough.
    if (!this.paused && s.writableLength > this.ctx.highWaterBytes) {
      this.paused = true;
      s.pause();
      s.once('drain', () => {
        this.paused = false;
        this.resumeIfFree();
      });
    }
  }

  /** Stops reading this client for ms (extends a hold in progress); backpressure for publishers. */
  holdInput(ms: number): void {
    if (ms <= 0) return;
    this.heldUntil = Math.max(this.heldUntil, Date.now() + ms);
    this.socket.pause();
    if (this.holdTimer) return;
    const check = () => {
      const left = this.heldUntil - Date.now();
      if (left > 0) {
        this.holdTimer = setTimeout(check, left).unref();
        return;
      }
      this.holdTimer = undefined;
      this.resumeIfFree();
    };
    this.holdTimer = setTimeout(check, ms).unref();
  }

  private resumeIfFree(): void {
    if (this.paused || this.holdTimer !== undefined || this.state.phase === 'closed') return;
    this.socket.resume();
  }

  /** Called by flushAll only. */
  flushQueued(): void {
    this.uncorkNow();
  }
}

/**
 * mqtt-packet keeps the CONNECT it parsed as its settings (PUBLISH has properties after a 5.0
 * CONNECT; SUBSCRIBE options differ in bridge mode), the read position within the packet body
 * while it emits the packet, and restarts with _resetState. All are internals of mqtt-packet 9
 * (package-lock pins it; test/unit/packet-field-checks.test.ts and
 * test/unit/connections-decode-independently.test.ts fail if they change).
 */
interface ParserSettings {
  protocolVersion?: number;
  bridgeMode?: boolean;
}
interface ParserInternals {
  settings: ParserSettings;
  _pos: number;
  _resetState(): void;
}

/** Before CONNECT mqtt-packet's settings are empty. */
const NO_CONNECT: ParserSettings = Object.freeze({});
/** One settings object per (protocol version, bridge mode), shared by the connections. */
const SETTINGS = new Map<string, ParserSettings>();

function settingsOf(s: ParserSettings): ParserSettings {
  const key = `${s.protocolVersion}/${s.bridgeMode === true}`;
  let shared = SETTINGS.get(key);
  if (shared === undefined) {
    shared = Object.freeze(s.bridgeMode ? { protocolVersion: s.protocolVersion, bridgeMode: true } : { protocolVersion: s.protocolVersion });
    SETTINGS.set(key, shared);
  }
  return shared;
}

/** A parser and the connection it is decoding for (undefined while free). */
interface Decoder {
  readonly parser: ReturnType<typeof mqtt.parser>;
  conn: Connection | undefined;
}

function makeDecoder(): Decoder {
  const d: Decoder = { parser: mqtt.parser(), conn: undefined };
  const internals = d.parser as unknown as ParserInternals;
  d.parser.on('packet', (p: mqtt.Packet) => d.conn?.decoded(p, internals._pos));
  d.parser.on('error', (err: Error) => d.conn?.decodeFailed(err));
  return d;
}

/** The process-wide parser; decoding is synchronous, so one serves every connection in turn. */
const shared = makeDecoder();

/**
 * The shared parser, set up for `c` (its settings); a fresh one in the unlikely case that a
 * handler running inside a decode starts another (the shared one is busy).
 */
function decoderFor(c: Connection): Decoder {
  const d = shared.conn === undefined ? shared : makeDecoder();
  d.conn = c;
  (d.parser as unknown as ParserInternals).settings = c.parserSettings;
  return d;
}

/** A context for connections that need no counting (tests, tools): UNCOUNTED traffic, the given handlers and limits. */
export function connectionContext(c: Partial<ConnectionContext> & Pick<ConnectionContext, 'onPacket' | 'onBad' | 'onFault'>): ConnectionContext {
  return { listener: 'tcp', mountpoint: '', maxPacketBytes: 1 << 20, highWaterBytes: 1 << 20, traffic: UNCOUNTED, ...c };
}

/**
 * net.Socket caches its peer address on first read of remoteAddress (`_peername`: an object and
 * the address string, about 90 bytes that every idle connection would keep). The connection has
 * copied the peer into its state, so the cache is dropped; a later read of remoteAddress asks
 * the handle again. Only an own, already set cache is touched (sockets whose peer came from a
 * PROXY header or a WebSocket request define remoteAddress themselves and have none).
 * test/unit/connection-drops-peer-address-cache.test.ts fails if Node stops caching it there.
 */
function dropPeerCache(socket: Socket): void {
  const s = socket as Socket & { _peername?: object };
  if (Object.hasOwn(s, '_peername') && s._peername !== undefined) s._peername = undefined;
}

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[kConnection]?.received(chunk);
}

/**
 * mqtt-packet reads fields from its whole input buffer, not just the packet: a truncated packet
 * borrows bytes from the next one (a PUBACK without its packet id, followed by a PINGREQ, gets
 * id 0xC000) or reads values as -1 at the end of the input. A packet whose fields did not end
 * exactly at its Remaining Length (PUBLISH: not past it, the rest is payload) is malformed
 * [MQTT-1.5.5 / 2.1.4: Remaining Length is the size of the variable header and payload].
 */
export function fieldsFillPacket(p: mqtt.Packet, read: number): boolean {
  const length = p.length ?? 0;
  return p.cmd === 'publish' ? read <= length : read === length;
}

/** Above this, a turn's output is handed to the socket buffer by buffer instead of copied into one. */
const MAX_CONCAT_BYTES = 256 * 1024;
/**
 * Turn buffers (Connection.room) are regions of one shared slab, reserved one after the other;
 * bytes queued in a region are never written again (regions handed to sockets and the shared
 * PUBLISH bytes of a fan-out view them; what the slab's last region did not use is given back
 * at its write), and a full slab is dropped for a new one.
 */
const TURN_SLAB_BYTES = 64 * 1024;
/** The smallest region. */
const MIN_REGION_BYTES = 1024;
let turnSlab = Buffer.allocUnsafe(TURN_SLAB_BYTES);
let turnSlabUsed = 0;

/** Connection.outAt when nothing is queued this turn. */
const NOTHING = 0;
/** Connection.outAt when `out` is the one packet queued, as given. */
const AS_GIVEN = 1;
/** Connection.outAt when `out` is the list of packets queued (concatenated at the write, up to MAX_CONCAT_BYTES). */
const GATHERED = 2;
/** Connection.outAt when `out` is this turn's region of the turn slab, ours. */
const OWN = 3;
/**
 * Packets gathered before a connection's turn moves to the slab: a fan-out's subscriber gets a
 * few per turn (a region for each of a thousand would take more slab than the copies cost), a
 * fan-in's subscriber hundreds.
 */
const GATHER_MAX = 8;

/** Connections with queued bytes, flushed together once per event-loop turn. */
let dirty: Connection[] = [];

function flushAll(): void {
  const list = dirty;
  dirty = [];
  for (let i = 0; i < list.length; i++) list[i]!.flushQueued();
}
