/**
 * Reads a process's Prometheus endpoint (`/metrics`) into series -> value, for scenarios that watch a
 * broker from outside: the event-loop delay of each process (prom-client's default
 * nodejs_eventloop_lag_max_seconds, the largest delay since the previous scrape), refusal counters.
 *
 * Who may call: load-generator scenarios.
 */

/** Series text (`name` or `name{labels}`) -> value. */
export type Scrape = Map<string, number>;

export async function scrapeMetrics(url: string, timeoutMs = 5000): Promise<Scrape> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const out: Scrape = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    const v = Number(line.slice(cut + 1));
    if (cut > 0 && Number.isFinite(v)) out.set(line.slice(0, cut), v);
  }
  return out;
}

/** Sum of every series of metric `name` (any labels). */
export function total(s: Scrape, name: string): number {
  let sum = 0;
  for (const [k, v] of s) if (k === name || k.startsWith(`${name}{`)) sum += v;
  return sum;
}

/** Values of metric `name` by the value of one label (`what`, `result`...). */
export function byLabel(s: Scrape, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`${label}="([^"]*)"`);
  for (const [k, v] of s) {
    if (!k.startsWith(`${name}{`)) continue;
    const m = re.exec(k);
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + v;
  }
  return out;
}
