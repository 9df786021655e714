/** Plain-text tables for benchmark and load-test reports (fixed-width, right-aligned numbers). */

export type Cell = string | number;

/** Formats rows under headers; numbers are right-aligned, text left-aligned. */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[], numeric: (i: number) => boolean) =>
    cells
      .map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(headers, () => false), widths.map((w) => '-'.repeat(w)).join('  ')];
  rows.forEach((r, ri) => out.push(line(text[ri]!, (i) => typeof r[i] === 'number')));
  return out.join('\n');
}

/** Integers with thousands separators; fractions with 2 significant decimals below 100. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (Number.isInteger(n) || abs >= 100) return Math.round(n).toLocaleString('en-US');
  if (abs >= 10) return n.toFixed(1);
  return n.toFixed(2);
}
