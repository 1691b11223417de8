import type { FieldContext } from '../codecs/types.js';
import { IncompletePassError, RowTooLargeError, WriteMissedError } from '../errors.js';
import { asText, type CasWrite, type RowId, type StoredRow, TableSql } from '../sql.js';
import { type KeyVersions, type TableKeys, tableKeys } from '../table-keys.js';
import type { OpenedTables, PassDeps, PassProgress } from './pass-deps.js';
import { forEachInTurns, retried, scanColumn } from './scan.js';
import {
  chooseStreams,
  columnRanges,
  eachAtOnce,
  type KeyRange,
  pacedPass,
  runStreams,
  type StreamControl,
} from './streams.js';

/** The Data API refuses result rows over 64 KB; keep room for the id and the JSON around it. */
export const DATA_API_ROW_LIMIT = 64 * 1024 - 1024;
/** How often rows that the app keeps changing are re-read before they are left for the next pass. */
const CONFLICT_ROUNDS = 5;
/** At most this many row ids are kept per problem, for reports (ids only, never values). */
const REPORTED_IDS = 20;

/** What to rewrite: values readable with a `sources` version's key are rewritten with `target`'s. */
export type ReencryptPlan = KeyVersions;

/** Counts for one column; ids only, never values. */
export interface ColumnReport {
  readonly table: string;
  readonly column: string;
  scanned: number;
  rewritten: number;
  alreadyDone: number;
  conflicts: number;
  /** Rows that kept changing under rekey and were left for the next pass. */
  unresolved: number;
  plaintext: number;
  undecryptable: number;
  readonly plaintextIds: RowId[];
  readonly undecryptableIds: RowId[];
}

/** The whole pass. */
export interface ReencryptReport {
  readonly columns: ColumnReport[];
  readonly total: number;
  readonly done: number;
}

/**
 * Opens every configured table, checking that tables, columns and types exist, before any write. The
 * catalog lookups are retried on transient errors like every other statement of a pass, and timed
 * into `latency` (the quickest). Tables the step opened already (`deps.tables`) are taken as they are,
 * their statements sent through this pass's runner.
 */
export async function openTables(deps: PassDeps, latency = { ms: 0 }): Promise<TableSql[]> {
  if (deps.tables) {
    const opened = await deps.tables;
    // The lookups' round trip is what the streams are chosen by: the passes' counts scan whole
    // columns, and a million rows' count alone took as long as a 100 ms call.
    latency.ms = Math.min(latency.ms, opened.latencyMs);
    return opened.tables.map((table) => table.through(deps.db));
  }
  return eachAtOnce(deps.config.storedFields, (table) =>
    timed(deps, latency, () => TableSql.open(deps.db, table)),
  );
}

/** Opens the configured tables for the passes of one step (PassDeps.tables), timing the lookups. */
export async function openTablesOnce(deps: PassDeps): Promise<OpenedTables> {
  const latency = { ms: Number.POSITIVE_INFINITY };
  const tables = await openTables(deps, latency);
  return { tables, latencyMs: latency.ms };
}

/**
 * Rewrites every configured column so that values under a `sources` key end up under `target`.
 * Keyset pages by id, sized to the Data API's limits; each page is written in one compare-and-swap
 * statement, so an app's concurrent write is never overwritten and a page is safe to retry. Rows
 * already under `target` are skipped (in SQL where the codec has a clear-text key id), so a resumed
 * pass costs nothing for the work already done.
 * @throws NotFinishedError when the deadline comes first; RowTooLargeError for rows the Data API
 * cannot carry.
 */
export async function reencrypt(plan: ReencryptPlan, passDeps: PassDeps): Promise<ReencryptReport> {
  const { deps, control } = pacedPass(passDeps);
  const latency = { ms: Number.POSITIVE_INFINITY };
  const tables = await openTables(deps, latency);
  const configured = tables.flatMap((table) => {
    const keys = tableKeys(deps.config, table.table, plan);
    return table.table.columns.map((column) => ({ table, keys, column }));
  });
  const work: ColumnWork[] = await eachAtOnce(configured, async ({ table, keys, column }) => {
    const stats = await timed(deps, latency, () => table.stats(column, keys.codec.sqlPrefix(keys.target)));
    return { table, keys, column, rows: stats.rows, avgBytes: stats.avgBytes, maxBytes: stats.maxBytes };
  });
  for (const { table, column, maxBytes } of work) {
    if (maxBytes <= DATA_API_ROW_LIMIT) continue;
    const ids = await retried(deps, () => table.idsLargerThan(column, DATA_API_ROW_LIMIT));
    throw new RowTooLargeError(
      `${table.name}.${column}: rows ${ids.join(', ')} hold values over the Data API's 64 KB row limit; rekey cannot move them`,
    );
  }
  const total = work.reduce((sum, w) => sum + w.rows, 0);
  const progress = { done: 0, total };
  const streams = chooseStreams(latency.ms, deps.config, 'write');
  const columns: ColumnReport[] = [];
  const tasks: (() => Promise<void>)[] = [];
  const rangesOf = await eachAtOnce(work, (w) =>
    columnRanges(deps, w.table, w.column, {
      rows: w.rows,
      avgBytes: w.avgBytes,
      streams,
      skipPrefix: w.keys.codec.sqlPrefix(w.keys.target),
    }),
  );
  for (const [i, w] of work.entries()) {
    const ranges = rangesOf[i] as KeyRange[];
    const report = emptyReport(w.table.name, w.column);
    columns.push(report);
    const stream: ColumnStream = { ...w, progress, columnProgress: { done: 0 }, control, report };
    let left = ranges.length;
    for (const range of ranges) {
      tasks.push(async () => {
        await reencryptRange(deps, stream, range);
        // The column's last range done: a pass that read none of the rows it had to move is checked.
        if (--left === 0 && report.scanned === 0 && w.rows > 0) await checkNothingLeft(deps, w, report);
      });
    }
  }
  if (streams > 1)
    deps.log.info('streams', { ...deps.logFields, streams, ranges: tasks.length, latencyMs: latency.ms });
  await runStreams(tasks, streams, control);
  return { columns, total, done: progress.done };
}

/** One configured column of the pass, as counted when the pass began. */
interface ColumnWork {
  readonly table: TableSql;
  readonly keys: TableKeys;
  /** The largest value to move, in bytes (over the Data API's row limit: the pass refuses to start). */
  readonly maxBytes: number;
  readonly column: string;
  readonly rows: number;
  readonly avgBytes: number;
}

/** A column's work with what its streams share: the pass's progress, the column's, the report. */
interface ColumnStream extends ColumnWork {
  readonly progress: PassProgress;
  readonly columnProgress: { done: number };
  readonly control: StreamControl;
  readonly report: ColumnReport;
}

/**
 * Runs `work` (safe to repeat) and keeps the quickest call seen in `latency`: the catalog lookups and
 * counts before a pass are its measure of the Data API's round trip (lambda/passes/streams.ts).
 */
export async function timed<T>(deps: PassDeps, latency: { ms: number }, work: () => Promise<T>): Promise<T> {
  const started = deps.clock.now();
  const result = await retried(deps, work);
  latency.ms = Math.min(latency.ms, deps.clock.now() - started);
  return result;
}

/**
 * A column that had rows to move but whose pass read none: either another pass moved them meanwhile (a
 * resume beside the service's retry), or the pass was blind (an answer without its records). A recount
 * tells which; the blind pass is an error, never a success.
 * @throws IncompletePassError when the rows that needed work are all still there.
 */
async function checkNothingLeft(
  deps: PassDeps,
  w: { readonly table: TableSql; readonly keys: TableKeys; readonly column: string; readonly rows: number },
  column: ColumnReport,
): Promise<void> {
  const skipPrefix = w.keys.codec.sqlPrefix(w.keys.target);
  const left = (await retried(deps, () => w.table.stats(w.column, skipPrefix))).rows;
  if (left >= w.rows) {
    throw new IncompletePassError(
      w.table.name,
      w.column,
      { before: w.rows, after: left },
      column.scanned,
      're-encryption',
    );
  }
}

/**
 * One stream: re-encrypts one key range of a column. Write behind: page n is re-encrypted while page
 * n-1's write is in flight. One write at a time per stream and in order, and the last one is awaited
 * before the stream returns or throws, so the Lambda never stops with a statement outstanding. Pages
 * are disjoint id ranges (and so are the streams' ranges) and every write is a compare-and-swap.
 */
async function reencryptRange(deps: PassDeps, stream: ColumnStream, range: KeyRange): Promise<void> {
  const { keys: plan, table, column, report } = stream;
  const skipPrefix = plan.codec.sqlPrefix(plan.target);
  const where: FieldContext = { table: table.table.table, column };
  let writing: Promise<void> = Promise.resolve();
  const onPage = async (rows: readonly StoredRow[], after: RowId | undefined) => {
    const { writes, skipped } = await preparePage(plan, where, rows, report);
    await writing;
    const upTo = (rows[rows.length - 1] as StoredRow).id;
    writing = writePage(plan, deps, table, column, where, writes, { after, upTo, skipPrefix }, report);
    writing.catch(() => {}); // awaited by the next page or at the end of the stream
    return { scanned: rows.length, queued: writes.length, skipped };
  };
  const options = {
    avgBytes: stream.avgBytes,
    skipPrefix,
    progress: stream.progress,
    columnRows: stream.rows,
    range,
    columnProgress: stream.columnProgress,
    control: stream.control,
  };
  try {
    await scanColumn(deps, table, column, options, onPage);
  } catch (error) {
    await writing; // a failed write is the error to report; otherwise the scan's
    throw error;
  }
  await writing;
}

/** Classifies and re-encrypts one page in memory; returns the writes and how many rows were skipped. */
async function preparePage(
  plan: TableKeys,
  where: FieldContext,
  rows: readonly StoredRow[],
  report: ColumnReport,
): Promise<{ writes: CasWrite[]; skipped: number }> {
  const writes: CasWrite[] = [];
  let skipped = 0;
  await forEachInTurns(rows, (row) => {
    report.scanned++;
    const next = rewriteValue(plan, row, where, report);
    if (next === undefined) skipped++;
    else writes.push({ id: row.id, old: row.value, next });
  });
  return { writes, skipped };
}

/** The ids a page covers (after `after`, up to `upTo`) and the values a pass skips. */
interface PageRange {
  readonly after: RowId | undefined;
  readonly upTo: RowId;
  readonly skipPrefix: string | undefined;
}

/** Writes one page with compare-and-swap, then settles the rows the app changed meanwhile. */
async function writePage(
  plan: TableKeys,
  deps: PassDeps,
  table: TableSql,
  column: string,
  where: FieldContext,
  writes: readonly CasWrite[],
  range: PageRange,
  report: ColumnReport,
): Promise<void> {
  const written = await retried(deps, () => table.compareAndSwap(column, writes));
  report.rewritten += written;
  report.conflicts += writes.length - written;
  if (written < writes.length)
    await resolveConflicts(plan, deps, table, column, where, range, writes, report);
}

/** The value re-encrypted under the target key, or `undefined` when the row is skipped (and counted). */
function rewriteValue(
  plan: TableKeys,
  row: StoredRow,
  where: FieldContext,
  report: ColumnReport,
): string | undefined {
  const text = asText(row.value);
  const found = plan.codec.classify(text, plan.all, where);
  if (found.kind === 'plaintext') {
    report.plaintext++;
    if (report.plaintextIds.length < REPORTED_IDS) report.plaintextIds.push(row.id);
    return undefined;
  }
  if (found.kind === 'key' && found.key.kid === plan.target.kid) {
    report.alreadyDone++;
    return undefined;
  }
  if (found.kind === 'key') {
    try {
      const plaintext = found.opened ?? plan.codec.decrypt(text, found.key, where);
      return plan.codec.encrypt(plaintext, plan.target, where);
    } catch {
      // Falls through: counted as undecryptable below, by id only.
    }
  }
  report.undecryptable++;
  if (report.undecryptableIds.length < REPORTED_IDS) report.undecryptableIds.push(row.id);
  return undefined;
}

/**
 * Rows that changed between read and write were written by the app meanwhile: re-read exactly that
 * id range and try again, a bounded number of times, never overwriting the app's value. A row that
 * still holds exactly the value the failed write expected was not changed by anyone: the write missed
 * it (ids that do not round-trip, a rewriting trigger), which no retry mends and no allowance for app
 * writes may cover.
 * @throws WriteMissedError naming the rows' ids.
 */
async function resolveConflicts(
  plan: TableKeys,
  deps: PassDeps,
  table: TableSql,
  column: string,
  where: FieldContext,
  range: PageRange,
  failed: readonly CasWrite[],
  report: ColumnReport,
): Promise<void> {
  const { after, upTo, skipPrefix } = range;
  let attempted = failed;
  for (let round = 1; round <= CONFLICT_ROUNDS; round++) {
    const rows = await retried(deps, () =>
      table.page(column, { after, upTo, limit: deps.config.paging.maxRows * 2, skipPrefix }),
    );
    const missed = unchangedRows(attempted, rows);
    if (missed.length > 0) {
      throw new WriteMissedError(table.name, column, missed.slice(0, REPORTED_IDS), missed.length);
    }
    const counts = emptyReport(table.name, column);
    const writes: CasWrite[] = [];
    for (const row of rows) {
      const next = rewriteValue(plan, row, where, counts);
      if (next !== undefined) writes.push({ id: row.id, old: row.value, next });
    }
    const written = await retried(deps, () => table.compareAndSwap(column, writes));
    report.rewritten += written;
    if (written === writes.length) return;
    attempted = writes;
    if (round === CONFLICT_ROUNDS) {
      report.unresolved += writes.length - written;
      deps.log.warn('rows kept changing during re-encryption; left for the next pass', {
        ...deps.logFields,
        table: table.name,
        column,
        rows: writes.length - written,
      });
    }
  }
}

/** Ids of the rows that still hold exactly the value a write expected (so the write missed them). */
function unchangedRows(writes: readonly CasWrite[], rows: readonly StoredRow[]): string[] {
  const expected = new Map(writes.map((w) => [String(w.id), asText(w.old)]));
  return rows.filter((r) => expected.get(String(r.id)) === asText(r.value)).map((r) => String(r.id));
}

function emptyReport(table: string, column: string): ColumnReport {
  return {
    table,
    column,
    scanned: 0,
    rewritten: 0,
    alreadyDone: 0,
    conflicts: 0,
    unresolved: 0,
    plaintext: 0,
    undecryptable: 0,
    plaintextIds: [],
    undecryptableIds: [],
  };
}
