import type { Codec, DataKey, FieldContext } from '../codecs/types.js';
import { type StrandedRows, StrandedRowsError } from '../errors.js';
import { asText, type RowId, type StoredRow } from '../sql.js';
import { type KeyVersions, tableKeys } from '../table-keys.js';
import type { PassDeps } from './pass-deps.js';
import { openTables, timed } from './reencrypt.js';
import { forEachInTurns, retried, scanColumn } from './scan.js';
import { chooseStreams, columnRanges, eachAtOnce, type KeyRange, pacedPass, runStreams } from './streams.js';

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
  const work = await eachAtOnce(configured, async (c) => {
    const stats = await timed(deps, latency, () => c.table.stats(c.column));
    return { ...c, avgBytes: stats.avgBytes, rows: stats.rows };
  });
  const total = work.reduce((sum, w) => sum + w.rows, 0);
  const progress = { done: 0, total };
  const streams = chooseStreams(latency.ms, deps.config);
  const rangesOf = await eachAtOnce(work, (w) =>
    columnRanges(deps, w.table, w.column, {
      rows: w.rows,
      avgBytes: w.avgBytes,
      streams,
      skipPrefix: undefined,
      minPages: 1,
    }),
  );
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
    let left = ranges.length;
    for (const range of ranges) {
      tasks.push(async () => {
        await scanColumn(
          deps,
          table,
          column,
          { avgBytes, skipPrefix: undefined, progress, columnRows: before, range, columnProgress, control },
          classify,
        );
        // Counted again once all of the column's ranges are read: the read must lie between the two.
        if (--left === 0) result.counted.after = (await retried(deps, () => table.stats(column))).rows;
      });
    }
  }
  await options.readAfter;
  await runStreams(tasks, streams, control);
  return results;
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
