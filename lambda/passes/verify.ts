import type { Codec, DataKey, FieldContext } from '../codecs/types.js';
import { type StrandedRows, StrandedRowsError } from '../errors.js';
import { asText, type RowId, type StoredRow, type TableSql } from '../sql.js';
import { type KeyVersions, tableKeys } from '../table-keys.js';
import type { PassDeps } from './pass-deps.js';
import { openTables } from './reencrypt.js';
import { answerBytes, forEachInTurns, retried, scanColumn } from './scan.js';
import {
  chooseStreams,
  columnRanges,
  eachAtOnce,
  type KeyRange,
  pacedPass,
  rangesBetween,
  runStreams,
} from './streams.js';

const REPORTED_IDS = 20;

/** What a full read of one column found, by row count; ids only, never values. */
export interface ColumnVerification {
  readonly table: string;
  readonly column: string;
  rows: number;
  /** Rows with a value in the column (COUNT) before and after the read, for the completeness check. */
  readonly counted: { before: number; after: number };
  underTarget: number;
  /** Readable, but under another staged key (written by the app after the last pass). */
  offTarget: number;
  /**
   * Of `offTarget`, those under a key older than the first source's (AWSCURRENT in a rotation): the
   * rows that promotion would strand, since AWSPREVIOUS moves on to the current version.
   */
  offOlder: number;
  plaintext: number;
  undecryptable: number;
  readonly offOlderIds: RowId[];
  readonly plaintextIds: RowId[];
  readonly undecryptableIds: RowId[];
}

/**
 * Reads every stored value and proves it decrypts with the `target` version's key alone. Values under
 * one of the `sources` versions' keys are counted as off target; values in no key's format as
 * plaintext; the rest as undecryptable. Each column is counted before and after its read, so the
 * caller can check that the read saw every row (see {@link incompleteRead}). Read-only. Key ranges of
 * a column, and columns, are read by several streams at once when calls are slow
 * (lambda/passes/streams.ts), a small column in one page per range.
 *
 * With `readAfter`, the counts before the read and the key ranges are taken at once, and the read
 * waits for it: testSecret overlaps them with its catch-up pass, which changes values but neither ids
 * nor which rows hold one, and a count taken earlier still bounds the read from its side.
 * @throws what `readAfter` rejects with, before reading anything.
 */
export async function verifyAll(
  versions: KeyVersions,
  passDeps: PassDeps,
  options: { readAfter?: Promise<unknown> } = {},
): Promise<ColumnVerification[]> {
  const { deps, control } = pacedPass(passDeps);
  const latency = { ms: Number.POSITIVE_INFINITY };
  const tables = await openTables(deps, latency);
  const first = versions.sources[0];
  const configured = tables.flatMap((table) => {
    const keys = tableKeys(deps.config, table.table, versions);
    const firstSourceKid =
      first === undefined
        ? undefined
        : tableKeys(deps.config, table.table, { target: first, sources: [] }).target.kid;
    return table.table.columns.map((column) => ({ table, keys, firstSourceKid, column }));
  });
  // Chosen by the lookups' round trip: the counts scan whole columns (see openTables).
  const streams = chooseStreams(latency.ms, deps.config, 'read');
  const work = await eachAtOnce(configured, async (c) => {
    // Beside the count, while the column's size is unknown: where its first pages would end, so that
    // a column of up to a few dozen pages is split into ranges without another round trip.
    const counted = retried(deps, () => c.table.stats(c.column));
    const ends =
      streams > 1 ? retried(deps, () => firstPageEnds(c.table, c.column, streams, deps)) : undefined;
    await Promise.allSettled([counted, ends]);
    const stats = await counted;
    return { ...c, avgBytes: stats.avgBytes, rows: stats.rows, pageEnds: await ends };
  });
  const total = work.reduce((sum, w) => sum + w.rows, 0);
  const progress = { done: 0, total };
  const rangesOf = await eachAtOnce(work, async (w) => {
    const known = w.pageEnds && rangesOfPages(w.pageEnds, streams);
    if (known) return known;
    return columnRanges(deps, w.table, w.column, {
      rows: w.rows,
      avgBytes: w.avgBytes,
      streams,
      skipPrefix: undefined,
      minPages: 1,
    });
  });
  const results: ColumnVerification[] = [];
  const tasks: (() => Promise<void>)[] = [];
  for (const [i, { table, keys, firstSourceKid, column, avgBytes, rows: before }] of work.entries()) {
    const ranges = rangesOf[i] as KeyRange[];
    const { codec, target } = keys;
    const result = emptyVerification(table.name, column);
    result.counted.before = before;
    results.push(result);
    const where: FieldContext = { table: table.table.table, column };
    const classify = async (rows: readonly StoredRow[]) => {
      await forEachInTurns(rows, (row) => {
        result.rows++;
        const text = asText(row.value);
        const found = codec.classify(text, keys.all, where);
        if (found.kind === 'plaintext') {
          result.plaintext++;
          note(result.plaintextIds, row.id);
        } else if (found.kind === 'key' && found.key.kid !== target.kid) {
          result.offTarget++;
          if (found.key.kid !== firstSourceKid) {
            result.offOlder++;
            note(result.offOlderIds, row.id);
          }
        } else if (
          found.kind === 'key' &&
          (found.opened !== undefined || opens(codec, text, target, where))
        ) {
          result.underTarget++;
        } else {
          result.undecryptable++;
          note(result.undecryptableIds, row.id);
        }
      });
      return { verified: rows.length };
    };
    const columnProgress = { done: 0 };
    // Counted again once every range of the column has been read, while its last pages are still
    // being checked: the count then comes after every read, and the read must lie between the two.
    let unread = ranges.length;
    let left = ranges.length;
    let countAfter: Promise<number> | undefined;
    const onLastRead = () => {
      if (--unread > 0) return;
      countAfter = retried(deps, () => table.stats(column)).then((s) => s.rows);
      countAfter.catch(() => {});
    };
    for (const range of ranges) {
      tasks.push(async () => {
        const options = {
          avgBytes,
          skipPrefix: undefined,
          progress,
          columnRows: before,
          range,
          columnProgress,
          // Reads only: the statements in flight bound it, not the rewrite's rate.
          paceRows: false,
        };
        try {
          await scanColumn(deps, table, column, { ...options, control, onLastRead }, classify);
        } finally {
          // Also when the check of a last page failed: the pass leaves no statement in flight.
          await countAfter?.catch(() => {});
        }
        if (--left === 0) result.counted.after = await (countAfter as Promise<number>);
      });
    }
  }
  await options.readAfter;
  await runStreams(tasks, streams, control);
  return results;
}

/**
 * A page's share of the Data API's answer that {@link firstPageEnds} fills: a range's values may run
 * larger than the column's average, from which the read sizes its pages; in 90% of one they still fit.
 */
const PAGE_FILL = 0.9;

/**
 * Pages per stream whose ends the full read asks for beside the count: a column of up to this many
 * pages a stream (about 8 × 2,800 rows of 200 bytes a stream) needs no boundaries query after it;
 * on a larger column the query stops after that many pages' rows.
 */
const ENDS_PER_STREAM = 8;

/** Where the column's first pages would end, as the full read sizes them. */
function firstPageEnds(table: TableSql, column: string, streams: number, deps: PassDeps): Promise<RowId[]> {
  const { maxBytes, maxRows } = deps.config.paging;
  const weight = PAGE_FILL * maxBytes;
  return table.pageEnds(column, {
    ...answerBytes(table.isBinary(column)),
    weight,
    minPerRow: maxBytes / maxRows,
    limit: streams * ENDS_PER_STREAM,
  });
}

/**
 * A column's ranges from the ends of all its pages, one per stream of consecutive pages about equal
 * in number; `undefined` when the ends may not be all of them (as many came back as were asked for).
 */
export function rangesOfPages(ends: readonly RowId[], streams: number): KeyRange[] | undefined {
  if (ends.length >= streams * ENDS_PER_STREAM) return undefined;
  const pages = ends.length + 1;
  const ranges = Math.min(streams, pages);
  // The range i ends where page ⌊(i + 1) · pages / ranges⌋ does: ranges differ by a page at most.
  const cuts = Array.from(
    { length: ranges - 1 },
    (_, i) => ends[Math.floor(((i + 1) * pages) / ranges) - 1] as RowId,
  );
  return rangesBetween(cuts);
}

/** What {@link checkKeysReachable} counted besides the stranded rows. */
export interface ReachableCount {
  /** Rows under a reachable key other than the first: what a pass to the first would move. */
  readonly underOthers: number;
  /** Whether every configured column was counted (codecs with a clear-text key id only). */
  readonly complete: boolean;
}

/**
 * Refuses to go on when stored rows carry a key id that none of the reachable versions holds: another
 * pass, or a promotion, would strand them for good (see StrandedRowsError for how they get there). Only codecs with a clear-text key id can be checked this way (in
 * SQL, without reading values); Fernet rows are checked row by row during the pass instead.
 * @param context what else is known, for the error (the last promotion rekey recorded).
 * @returns the rows under the other reachable keys, and whether every column could be counted.
 * @throws StrandedRowsError naming the table, column, key ids (public), row counts and the causes.
 */
export async function checkKeysReachable(
  reachable: readonly string[],
  passDeps: PassDeps,
  context?: string,
): Promise<ReachableCount> {
  const [first, ...rest] = reachable;
  if (first === undefined) return { underOthers: 0, complete: false };
  const { deps } = pacedPass(passDeps);
  const stranded: StrandedRows[] = [];
  let underOthers = 0;
  let complete = true;
  const columns = (await openTables(deps)).flatMap((table) => {
    const { codec, target, sources } = tableKeys(deps.config, table.table, { target: first, sources: rest });
    const prefixLength = codec.sqlPrefix(target)?.length;
    if (!codec.formatPrefix || !prefixLength) {
      complete = false;
      return [];
    }
    const formatPrefix = codec.formatPrefix;
    const known = new Set([target, ...sources].map((k) => codec.sqlPrefix(k)));
    const firstPrefix = codec.sqlPrefix(target);
    return table.table.columns.map((column) => ({
      table,
      column,
      formatPrefix,
      prefixLength,
      known,
      firstPrefix,
    }));
  });
  const counted = await eachAtOnce(columns, (c) =>
    retried(deps, () => c.table.countByPrefix(c.column, c.formatPrefix, c.prefixLength)),
  );
  for (const [i, c] of columns.entries()) {
    for (const [prefix, rows] of counted[i] as Map<string, number>) {
      if (!c.known.has(prefix)) stranded.push({ table: c.table.name, column: c.column, keyId: prefix, rows });
      else if (prefix !== c.firstPrefix) underOthers += rows;
    }
  }
  if (stranded.length > 0) throw new StrandedRowsError(stranded, context);
  return { underOthers, complete };
}

function opens(codec: Codec, text: string, key: DataKey, where: FieldContext): boolean {
  try {
    codec.decrypt(text, key, where);
    return true;
  } catch {
    return false;
  }
}

function note(ids: RowId[], id: RowId): void {
  if (ids.length < REPORTED_IDS) ids.push(id);
}

function emptyVerification(table: string, column: string): ColumnVerification {
  return {
    table,
    column,
    rows: 0,
    counted: { before: 0, after: 0 },
    underTarget: 0,
    offTarget: 0,
    offOlder: 0,
    plaintext: 0,
    undecryptable: 0,
    offOlderIds: [],
    plaintextIds: [],
    undecryptableIds: [],
  };
}

/**
 * Whether a column's read saw fewer or more rows than the table held: app writes during the read move
 * the count between its value before and after, so a count outside that range (or none read of a
 * column that has rows) means the pass did not see what it proves.
 */
export function incompleteRead(c: Pick<ColumnVerification, 'rows' | 'counted'>): boolean {
  const low = Math.min(c.counted.before, c.counted.after);
  const high = Math.max(c.counted.before, c.counted.after);
  return c.rows < low || c.rows > high;
}
