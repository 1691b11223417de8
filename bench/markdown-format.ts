/** Number formats shared by the report's tables. */

/** A number with thousands separators and a fixed number of decimals. */
export const num = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '∞';

/** Seconds, one decimal below 100 s. */
export const secs = (ms: number): string =>
  ms >= 100_000 ? `${num(ms / 1000)} s` : `${num(ms / 1000, 1)} s`;

/** Bytes as decimal megabytes. */
export const mb = (bytes: number): string => `${num(bytes / 1e6, 1)} MB`;

/** A ratio as `0.42×`. */
export const times = (ratio: number, digits = 2): string => `${num(ratio, digits)}×`;
