/**
 * Which prototype changes are on, from BENCH_PROTO (a comma list), so one bundle measures each change
 * alone and together:
 * - `nolog`: drop the SDK's logger middleware, which deep-copies every request and response through
 *   the schema's sensitive-data filter even though the default logger discards the result;
 * - `json-records`: page SELECTs ask for `formatRecordsAs: 'JSON'` (one string to parse natively
 *   instead of a Field object per cell through the SDK's deserializer);
 * - `json-params`: the compare-and-swap UPDATE takes the page as one JSON parameter
 *   (`json_to_recordset`) instead of three typed parameters per row;
 * - `cas-hash`: compare against the SHA-256 of the old value instead of sending the old value back;
 * - `pipeline`: read the next page while this one is re-encrypted and written;
 * - `write-behind`: re-encrypt the next page while this page's write is in flight (one at a time);
 * - `ranges=K`: K key ranges of the id at once (numeric ids).
 */
export interface Knobs {
  readonly nolog: boolean;
  readonly jsonRecords: boolean;
  readonly jsonParams: boolean;
  readonly casHash: boolean;
  readonly pipeline: boolean;
  readonly writeBehind: boolean;
  readonly ranges: number;
}

/** The knobs of this process. */
export const knobs: Knobs = parseKnobs(process.env.BENCH_PROTO ?? '');

/** Parses a BENCH_PROTO value. */
export function parseKnobs(value: string): Knobs {
  const set = new Set(value.split(',').map((v) => v.trim()));
  const ranges = [...set].find((v) => v.startsWith('ranges='));
  return {
    nolog: set.has('nolog'),
    jsonRecords: set.has('json-records'),
    jsonParams: set.has('json-params'),
    casHash: set.has('cas-hash'),
    pipeline: set.has('pipeline'),
    writeBehind: set.has('write-behind'),
    ranges: ranges ? Math.max(1, Math.min(16, Number(ranges.slice('ranges='.length)) || 1)) : 1,
  };
}
