import type { RekeyConfig } from '../config.js';
import { NotFinishedError } from '../errors.js';
import { withRetry } from '../retry.js';
import type { RowId, StoredRow, TableSql } from '../sql.js';
import type { PassDeps, PassProgress } from './pass-deps.js';
import { type KeyRange, type StreamControl, StreamStoppedError } from './streams.js';

/**
 * Walks one column in keyset pages ordered by id. Pages are sized to the Data API's limits from the
 * average value size (and halved when the service still says a response is too large); the pass stops
 * before the deadline with a NotFinishedError so the next attempt resumes.
 *
 * The next page is read while `onPage` handles this one: its rows all come after this page's last id,
 * so nothing `onPage` writes can change what it holds, and with the round trip hidden a page costs the
 * larger of the two instead of their sum.
 *
 * Several streams may page disjoint key ranges of one column at once (lambda/passes/streams.ts): each
 * keeps its own read-ahead, they share the column's progress in rows, and each stops at its next page
 * once another has failed.
 * @returns nothing; `onPage` gets each page with the id the page started after.
 * @throws NotFinishedError when the deadline comes first; StreamStoppedError when another stream failed.
 */
export async function scanColumn(
  deps: PassDeps,
  table: TableSql,
  column: string,
  options: {
    avgBytes: number;
    skipPrefix: string | undefined;
    progress: PassProgress;
    /** The column's rows to handle, counted when the pass began (for progress in rows). */
    columnRows: number;
    /** The key range to page within (default: the whole column). */
    range?: KeyRange;
    /** The column's rows handled so far, shared by the streams that page its ranges. */
    columnProgress?: { done: number };
    /** Shared with the pass's other streams: stop when one failed, the slowest page, the pacer. */
    control?: StreamControl;
    /**
     * Called once the range's last page has come back, before `onPage` handles it: whatever the
     * database answers from then on comes after every page of the range was read.
     */
    onLastRead?: () => void;
    /**
     * Whether the rows count against `pacing.maxRowsPerSecond` (default true). testSecret's full read
     * writes nothing, and it does not resume: under a rate meant for rewrites (5,000 rows/s), 10M rows
     * would need 33 minutes, more than an invocation, on every retry.
     */
    paceRows?: boolean;
  },
  onPage: (rows: readonly StoredRow[], after: RowId | undefined) => Promise<Record<string, number>>,
): Promise<void> {
  const control = options.control ?? { stopped: false, slowestPageMs: 0, pacer: undefined };
  const columnProgress = options.columnProgress ?? { done: 0 };
  const upTo = options.range?.upTo;
  const fitRows = (bytesPerRow: number) => pageRowsFor(bytesPerRow, table.isBinary(column), deps.config);
  const read = (from: RowId | undefined, rows: number): Promise<StoredRow[]> => {
    const pending = (async () => {
      if (options.paceRows !== false) await control.pacer?.admitRows(rows);
      return retried(deps, () =>
        table.page(column, { after: from, upTo, limit: rows, skipPrefix: options.skipPrefix }),
      );
    })();
    // A read ahead may fail before anyone awaits it (the pass stops): that must not go unhandled.
    pending.catch(() => {});
    return pending;
  };
  let limit = fitRows(options.avgBytes);
  let after: RowId | undefined = options.range?.after;
  let ahead: Promise<StoredRow[]> | undefined;
  // The read ahead is awaited (never its error: the pass reports its own) however the stream ends, so
  // that a pass that returns or throws leaves no statement of its own outstanding.
  try {
    for (;;) {
      const started = deps.clock.now();
      if (control.stopped) throw new StreamStoppedError();
      if (started + deps.config.safetyMarginMs + control.slowestPageMs * 2 > deps.deadline) {
        throw new NotFinishedError(options.progress.done, options.progress.total);
      }
      let rows: StoredRow[];
      try {
        rows = await (ahead ?? read(after, limit));
      } catch (error) {
        ahead = undefined;
        if (!isResponseTooLarge(error) || limit === 1) throw error;
        limit = Math.max(1, Math.floor(limit / 2));
        deps.log.warn('page over the Data API response limit; halving it', {
          ...deps.logFields,
          table: table.name,
          column,
          rows: limit,
        });
        continue;
      }
      ahead = undefined;
      const more = rows.length >= limit;
      if (!more) options.onLastRead?.();
      if (rows.length === 0) return;
      const last = (rows[rows.length - 1] as StoredRow).id;
      const pageBytes = rows.reduce(
        (sum, r) => sum + (typeof r.value === 'string' ? r.value.length : r.value.byteLength),
        0,
      );
      const nextLimit = fitRows(pageBytes / rows.length);
      if (more) ahead = read(last, nextLimit);
      const counts = await onPage(rows, after);
      options.progress.done += rows.length;
      columnProgress.done += rows.length;
      deps.progress?.({
        table: table.name,
        column,
        rows: columnProgress.done,
        columnRows: options.columnRows,
        done: options.progress.done,
        total: options.progress.total,
      });
      const durationMs = deps.clock.now() - started;
      control.slowestPageMs = Math.max(control.slowestPageMs, durationMs);
      deps.log.info('page', {
        ...deps.logFields,
        table: table.name,
        column,
        rows: rows.length,
        ...counts,
        durationMs,
      });
      if (!more) return;
      after = last;
      limit = nextLimit;
    }
  } finally {
    if (ahead) await ahead.catch(() => {});
  }
}

/**
 * Rows per page for values of `bytesPerRow` on average: as many as fit `paging.maxBytes` of the Data
 * API's answer (base64 for blobs, JSON quoting for text, and room for the id), at most `paging.maxRows`.
 * The plan (lambda/plan.ts) and the census page with it too, so the plan predicts the pages a pass reads.
 */
export function pageRowsFor(
  bytesPerRow: number,
  binary: boolean,
  config: Pick<RekeyConfig, 'paging'>,
): number {
  const { maxRows, maxBytes } = config.paging;
  const { perByte, perRow } = answerBytes(binary);
  return Math.max(1, Math.min(maxRows, Math.floor(maxBytes / (bytesPerRow * perByte + perRow))));
}

/** What a row costs in the Data API's answer: base64 for blobs, JSON quoting for text, and the id. */
export function answerBytes(binary: boolean): { perByte: number; perRow: number } {
  return { perByte: binary ? 1.4 : 1.1, perRow: 64 };
}

/** Rows handled between two turns of the event loop while a page is worked on in memory. */
const ROWS_PER_TURN = 64;

/**
 * Calls `work` on each row, giving the event loop a turn first and then every few dozen rows. The page
 * read ahead and the write behind are requests in flight: they are only sent, and their answers only
 * read, when the CPU-bound crypto lets the loop run, so without these turns a request started just
 * before a page's crypto would wait for all of it.
 */
export async function forEachInTurns<T>(rows: readonly T[], work: (row: T) => void): Promise<void> {
  for (let i = 0; i < rows.length; i++) {
    if (i % ROWS_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    work(rows[i] as T);
  }
}

/** Runs safe-to-repeat Data API work with bounded, jittered retries on transient errors. */
export function retried<T>(deps: PassDeps, work: () => Promise<T>): Promise<T> {
  return withRetry(work, {
    clock: deps.clock,
    policy: deps.retry,
    onRetry: (error, attempt) =>
      deps.log.warn('transient Data API error; retrying', { ...deps.logFields, error: error.name, attempt }),
  });
}

/**
 * The Data API says a response is over its 1 MiB limit only through a BadRequestException's message,
 * so this one check reads the message (the service has no dedicated error name for it).
 */
export function isResponseTooLarge(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.name === 'BadRequestException' &&
    /response size limit/i.test(error.message)
  );
}
