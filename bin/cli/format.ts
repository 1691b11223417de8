/** Small text helpers for the CLI's human output. */

/** A date as ISO 8601 to the second, in UTC; '-' when unknown. */
export function isoDate(date: Date | undefined): string {
  return date ? `${date.toISOString().slice(0, 19)}Z` : '-';
}

/** A duration in the largest unit that keeps it readable: '45s', '12m', '5h', '3d'. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 120 * 60) return `${Math.round(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** '3d ago' or 'in 3d' relative to `now`. */
export function relative(date: Date, now: number): string {
  const ms = date.getTime() - now;
  return ms < 0 ? `${duration(-ms)} ago` : `in ${duration(ms)}`;
}

/**
 * Renders rows as columns separated by two spaces; numbers (and '-') are right-aligned in columns
 * whose every body cell is one.
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^(-|[0-9]+)$/.test(r[i] ?? '')));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
