import { pino, stdSerializers, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { redactValue } from './log-redact.js';
import { formatPretty } from './log-pretty.js';

/**
 * Structured logs through pino: one JSON object per line on stderr (`log.format=json`, the
 * default), or readable lines for development (`log.format=pretty`, log-pretty.ts).
 *
 * - A line reads `{"level":"info","t":"<ISO time>","msg":"...",<child fields>,<fields>}`: the
 *   message before the fields, so `grep '"msg":"ready".*"httpPort"'` works.
 * - Any field holding an Error becomes `{type, message, stack, cause: {...}}` at every level, the
 *   `cause` chain included (pino's errWithCause serializer).
 * - Every field passes log-redact.ts: secret fields print as `***`, URL passwords as `***`.
 * - Writes are synchronous to stderr, as process.stderr is for files and pipes: a line is never
 *   lost on exit, and callers never log per message (only the bounded client trace logs per
 *   packet, for one client at a time).
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  enabled(level: LogLevel): boolean;
}

/** Where lines go: stderr, or `sink` (tests) receiving each line with its newline. */
function destination(format: LogFormat, sink: ((line: string) => void) | undefined): DestinationStream {
  if (format === 'pretty') {
    const color = sink === undefined && process.stderr.isTTY === true && !process.env.NO_COLOR;
    const out = sink ?? ((l: string) => void process.stderr.write(l));
    return { write: (line: string) => out(formatPretty(line, color)) };
  }
  if (sink) return { write: sink };
  return pino.destination({ dest: 2, sync: true });
}

/**
 * An Error as a plain object: `{type, message, stack, code?, ..., cause: {...}}`, causes nested
 * (pino's errWithCause; copied into plain objects so redaction reaches their messages and stacks).
 */
export function serializeError(err: Error): Record<string, unknown> {
  const plain = (s: unknown, depth: number): unknown => {
    if (typeof s !== 'object' || s === null || depth > 8) return s;
    const o: Record<string, unknown> = { ...(s as Record<string, unknown>) };
    if (o.cause !== undefined) o.cause = plain(o.cause, depth + 1);
    if (Array.isArray(o.aggregateErrors)) o.aggregateErrors = o.aggregateErrors.map((x) => plain(x, depth + 1));
    return o;
  };
  return plain(stdSerializers.errWithCause(err), 0) as Record<string, unknown>;
}

/** Fields ready for a line: Errors serialized with their causes, then secrets masked. */
function prepare(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? serializeError(v) : v;
  return redactValue(out) as Record<string, unknown>;
}

function wrap(p: PinoLogger<never>, base: Record<string, unknown>): Logger {
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (!p.isLevelEnabled(lvl)) return;
    // `msg` inside the object, first: pino would write a message argument after the fields.
    p[lvl]({ msg, ...base, ...(fields ? prepare(fields) : undefined) });
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (f) => wrap(p, { ...base, ...prepare(f) }),
    enabled: (l) => p.isLevelEnabled(l),
  };
}

export function createLogger(level: LogLevel = 'info', base: Record<string, unknown> = {}, sink?: (line: string) => void, format: LogFormat = 'json'): Logger {
  const p = pino(
    {
      level,
      base: null,
      timestamp: () => `,"t":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      // Errors are serialized (with causes) and redacted before pino sees them (prepare()).
      serializers: { err: (v: unknown) => v },
    },
    destination(format, sink),
  );
  return wrap(p, prepare(base));
}

/** A logger that drops everything, for unit tests. */
export const silentLogger: Logger = createLogger('error', {}, () => {});
