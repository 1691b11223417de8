import type { RekeyConfig } from '../config.js';
import { NotFinishedError } from '../errors.js';
import type { RowId, TableSql } from '../sql.js';
import { Pacer, pacedRunner } from './pacing.js';
import type { PassDeps } from './pass-deps.js';
import { pageRowsFor, retried } from './scan.js';

/**
 * A call's latency that one more stream hides, by the kind of pass: about the CPU time of one page's
 * work. A stream waits for its read or write unless its page's work takes as long as a call.
 * - A read pass (the full read) only opens values: a few thousand at ~20-35 µs each, 50-100 ms a
 *   page; 25 ms leaves room for less CPU than that, so at 100 ms four streams read, at 250 ms eight.
 * - A write pass opens and seals (about twice the CPU a page), and each stream holds three pages in
 *   memory (read ahead, worked on, written behind), so it takes fewer: measured at 1M rows on the
 *   benchmark's 2-vCPU VM (`npm run bench -- --sizes 1m --latency 100 --streams N`), setSecret ran
 *   12,929 rows/s on one stream, 19,963 on two and 19,484 on four at 100 ms, 15,997 on three and
 *   15,817 on eight at 250 ms, while its peak RSS rose from 127 to 146 to 166 MiB (one, two, four).
 *   At 80 ms a stream, 100 ms takes two and 250 ms four.
 */
const LATENCY_PER_STREAM_MS = { read: 25, write: 80 } as const;

/** What a pass does with the values it reads: only check them (read) or rewrite them (write). */
export type PassKind = keyof typeof LATENCY_PER_STREAM_MS;

/**
 * Streams at most, unless `paging.maxStreams` says otherwise: enough to hide a call of 200 ms behind
 * the crypto, and eight pages in flight (three each in memory, a few MB) is small for a Lambda.
 */
export const DEFAULT_MAX_STREAMS = 8;

/** Ids after `after` (exclusive, none: from the start) up to `upTo` (inclusive, none: to the end). */
export interface KeyRange {
  readonly after: RowId | undefined;
  readonly upTo: RowId | undefined;
}

/** The whole column as one range. */
export const WHOLE_COLUMN: KeyRange = { after: undefined, upTo: undefined };

/** What the streams of one pass share: whether to stop, the slowest page so far, and the pacer. */
export interface StreamControl {
  stopped: boolean;
  slowestPageMs: number;
  readonly pacer: Pacer | undefined;
}

/**
 * Thrown by a stream that stopped because another failed, so that it still awaits its own write; never
 * leaves the pass (the other stream's error does).
 */
export class StreamStoppedError extends Error {
  constructor() {
    super('stopped because another stream of the pass failed');
    this.name = 'StreamStoppedError';
  }
}

/**
 * How many streams of a `pass` hide a call of `latencyMs`, within `paging.maxStreams` (or
 * `paging.streams`, fixed).
 */
export function chooseStreams(
  latencyMs: number,
  config: Pick<RekeyConfig, 'paging'>,
  pass: PassKind,
): number {
  if (config.paging.streams !== undefined) return config.paging.streams;
  const wanted = Math.ceil(Math.max(0, latencyMs) / LATENCY_PER_STREAM_MS[pass]);
  return Math.max(1, Math.min(config.paging.maxStreams ?? DEFAULT_MAX_STREAMS, wanted));
}

/**
 * The pass's collaborators with every statement paced (after the stage guard inside `deps.db`, which
 * so still sees every statement), and the control its streams share.
 */
export function pacedPass(deps: PassDeps): { deps: PassDeps; control: StreamControl } {
  const pacer = deps.pacer ?? new Pacer(deps.config.pacing, deps.clock);
  const control: StreamControl = { stopped: false, slowestPageMs: 0, pacer };
  deps.signal?.addEventListener(
    'abort',
    () => {
      control.stopped = true;
    },
    { once: true },
  );
  if (deps.signal?.aborted) control.stopped = true;
  return {
    // Without the pacer: a pass these deps reach again paces with one of its own instead of waiting on
    // this one inside a statement it already holds a place for.
    deps: { ...deps, db: pacedRunner(deps.db, pacer), pacer: undefined },
    control,
  };
}

/**
 * Splits a column's rows into `ranges` key ranges of about equal rows, from boundary ids the database
 * numbers (TableSql.boundaries). The first range is open below and the last open above, so rows the
 * app inserts anywhere meanwhile fall in some range, as they would in one pass over the column.
 */
export async function keyRanges(
  deps: PassDeps,
  table: TableSql,
  column: string,
  options: { rows: number; ranges: number; skipPrefix: string | undefined },
): Promise<KeyRange[]> {
  if (options.ranges <= 1 || options.rows < 2) return [WHOLE_COLUMN];
  // Rounded, not up: the last range then takes the remainder (a few rows more) rather than a stub.
  const every = Math.max(1, Math.round(options.rows / options.ranges));
  const ids = await retried(deps, () =>
    table.boundaries(column, { every, limit: options.ranges - 1, skipPrefix: options.skipPrefix }),
  );
  return rangesBetween(ids);
}

/** The key ranges that boundary ids in ascending order cut a column into, open below and above. */
export function rangesBetween(ids: readonly RowId[]): KeyRange[] {
  const ranges: KeyRange[] = [];
  let after: RowId | undefined;
  for (const id of ids) {
    ranges.push({ after, upTo: id });
    after = id;
  }
  ranges.push({ after, upTo: undefined });
  return ranges;
}

/**
 * A column's key ranges for a pass with `streams` streams: one per stream, none smaller than
 * `minPages` of the pages the pass reads for values of `avgBytes`.
 */
export function columnRanges(
  deps: PassDeps,
  table: TableSql,
  column: string,
  options: {
    rows: number;
    avgBytes: number;
    streams: number;
    skipPrefix: string | undefined;
    /** Pages a range holds at least (default 2: a range's read-ahead and write-behind need two). */
    minPages?: number;
  },
): Promise<KeyRange[]> {
  const pageRows = pageRowsFor(options.avgBytes, table.isBinary(column), deps.config);
  return keyRanges(deps, table, column, {
    rows: options.rows,
    ranges: rangesFor(options.rows, pageRows, options.streams, options.minPages),
    skipPrefix: options.skipPrefix,
  });
}

/** How many ranges to split a column of `rows` into: one per stream, none smaller than `minPages` pages. */
export function rangesFor(rows: number, pageRows: number, streams: number, minPages = 2): number {
  const each = Math.max(1, minPages * pageRows);
  // A read-only pass takes one-page ranges (minPages 1): a small column is then read in one round trip.
  const ranges = minPages === 1 ? Math.ceil(rows / each) : Math.floor(rows / each);
  return Math.max(1, Math.min(streams, ranges));
}

/**
 * Runs `tasks` on `streams` workers at once. The first failure stops the rest at their next page
 * (each finishes its statements in flight first), and once every worker has returned the pass
 * throws: an error of substance before a NotFinishedError, since the deadline only says when.
 * @throws the first error of substance a task threw, else its first NotFinishedError.
 */
export async function runStreams(
  tasks: readonly (() => Promise<void>)[],
  streams: number,
  control: StreamControl,
): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (!control.stopped && next < tasks.length) {
      const task = tasks[next++] as () => Promise<void>;
      try {
        await task();
      } catch (error) {
        control.stopped = true;
        if (!(error instanceof StreamStoppedError)) errors.push(error);
      }
    }
  };
  const workers = Math.max(1, Math.min(streams, tasks.length));
  await Promise.all(Array.from({ length: workers }, worker));
  const [first] = errors;
  // Stopped from outside (PassDeps.signal) with no error of its own: the pass did not finish, and must
  // not return as if it had.
  if (first === undefined && control.stopped) throw new StreamStoppedError();
  if (first === undefined) return;
  throw errors.find((e) => !(e instanceof NotFinishedError)) ?? first;
}

/**
 * Runs `work` on every item at once (the pass's pacer bounds the statements: a pass's per-column
 * counts and lookups are then a round trip or two, not one per column) and waits for every one, so
 * that none is left in flight when one fails.
 * @returns the results in the items' order.
 * @throws the error of the first item that failed, in the items' order.
 */
export async function eachAtOnce<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const outcomes = await Promise.allSettled(items.map(work));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw failed.reason;
  return outcomes.map((o) => (o as PromiseFulfilledResult<R>).value);
}
