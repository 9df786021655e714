/**
 * The human-readable log format (`log.format=pretty`, for development): one line per record,
 *
 *     12:04:05.123 INFO  client connected clientId=dev-1 peer=127.0.0.1:50412 keepaliveS=60
 *
 * then, indented below it, every multi-line value (stacks) and each error with its causes. Formats
 * the JSON line the logger produced, so both formats carry exactly the same fields and redaction.
 * Development only: it parses each line again, which production (JSON) never does.
 */

const COLORS: Record<string, string> = { debug: '\x1b[90m', info: '\x1b[32m', warn: '\x1b[33m', error: '\x1b[31m' };
const RESET = '\x1b[0m';

interface SerializedError {
  type?: string;
  message: string;
  stack?: string;
  cause?: unknown;
  [k: string]: unknown;
}

function isSerializedError(v: unknown): v is SerializedError {
  return (
    typeof v === 'object' && v !== null && typeof (v as SerializedError).message === 'string' && (typeof (v as SerializedError).stack === 'string' || typeof (v as SerializedError).type === 'string')
  );
}

const plain = /^[^\s"=]+$/;

function inline(v: unknown): string {
  if (typeof v === 'string') return plain.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

/** The lines below the record for one error and its cause chain (the stack names the error itself). */
function errorBlock(e: SerializedError, depth = 0): string {
  const head = e.stack ?? `${e.type ?? 'Error'}: ${e.message}`;
  const out = [depth === 0 ? head : `caused by: ${head}`];
  if (isSerializedError(e.cause) && depth < 8) out.push(errorBlock(e.cause, depth + 1));
  else if (e.cause !== undefined) out.push(`caused by: ${inline(e.cause)}`);
  return out.join('\n');
}

export function formatPretty(line: string, color = false): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line; // not ours: pass it through untouched
  }
  const { t, level, msg, ...fields } = rec;
  const lvl = String(level ?? '');
  const time = typeof t === 'string' ? t.slice(11, 23) : '';
  const label = lvl.toUpperCase().padEnd(5);
  const parts = [time, color ? `${COLORS[lvl] ?? ''}${label}${RESET}` : label, String(msg ?? '')];
  const below: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (isSerializedError(v)) {
      parts.push(`${k}=${inline(`${v.type ?? 'Error'}: ${v.message}`)}`);
      below.push(indent(errorBlock(v)));
    } else if (typeof v === 'string' && v.includes('\n')) {
      below.push(indent(`${k}: ${v}`));
    } else parts.push(`${k}=${inline(v)}`);
  }
  return [parts.join(' '), ...below].join('\n') + '\n';
}
