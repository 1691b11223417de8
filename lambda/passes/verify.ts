import type { Codec, DataKey, FieldContext } from '../codecs/types.js';
import { type StrandedRows, StrandedRowsError } from '../errors.js';
import { asText, type RowId, type StoredRow, type TableSql } from '../sql.js';
import { type KeyVersions, type TableKeys, tableKeys } from '../table-keys.js';
import type { PassDeps } from './pass-deps.js';
import { openTables, timed } from './reencrypt.js';
import { forEachInTurns, retried, scanColumn } from './scan.js';
import { chooseStreams, columnRanges, pacedPass, runStreams } from './streams.js';

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
 * (lambda/passes/streams.ts).
 */
export async function verifyAll(versions: KeyVersions, passDeps: PassDeps): Promise<ColumnVerification[]> {
  const { deps, control } = pacedPass(passDeps);
  const latency = { ms: Number.POSITIVE_INFINITY };
  const tables = await openTables(deps, latency);
  const work: {
    table: TableSql;
    keys: TableKeys;
    firstSourceKid: string | undefined;
    column: string;
    avgBytes: number;
    rows: number;
  }[] = [];
  let total = 0;
  const first = versions.sources[0];
  for (const table of tables) {
    const keys = tableKeys(deps.config, table.table, versions);
    const firstSourceKid =
      first === undefined
        ? undefined
        : tableKeys(deps.config, table.table, { target: first, sources: [] }).target.kid;
    for (const column of table.table.columns) {
      const stats = await timed(deps, latency, () => table.stats(column));
      total += stats.rows;
      work.push({ table, keys, firstSourceKid, column, avgBytes: stats.avgBytes, rows: stats.rows });
    }
  }
  const progress = { done: 0, total };
  const streams = chooseStreams(latency.ms, deps.config);
  const results: ColumnVerification[] = [];
  const tasks: (() => Promise<void>)[] = [];
  for (const { table, keys, firstSourceKid, column, avgBytes, rows: before } of work) {
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
    const ranges = await columnRanges(deps, table, column, {
      rows: before,
      avgBytes,
      streams,
      skipPrefix: undefined,
    });
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
  await runStreams(tasks, streams, control);
  return results;
}

/**
 * Refuses to go on when stored rows carry a key id that none of the reachable versions holds: another
 * pass, or a promotion, would strand them for good (see StrandedRowsError for how they get there). Only codecs with a clear-text key id can be checked this way (in
 * SQL, without reading values); Fernet rows are checked row by row during the pass instead.
 * @param context what else is known, for the error (the last promotion rekey recorded).
 * @throws StrandedRowsError naming the table, column, key ids (public), row counts and the causes.
 */
export async function checkKeysReachable(
  reachable: readonly string[],
  deps: PassDeps,
  context?: string,
): Promise<void> {
  const [first, ...rest] = reachable;
  if (first === undefined) return;
  const stranded: StrandedRows[] = [];
  for (const table of await openTables(deps)) {
    const { codec, target, sources } = tableKeys(deps.config, table.table, { target: first, sources: rest });
    const prefixLength = codec.sqlPrefix(target)?.length;
    if (!codec.formatPrefix || !prefixLength) continue;
    const known = new Set([target, ...sources].map((k) => codec.sqlPrefix(k)));
    for (const column of table.table.columns) {
      const counts = await retried(deps, () =>
        table.countByPrefix(column, codec.formatPrefix as string, prefixLength),
      );
      for (const [prefix, rows] of counts) {
        if (!known.has(prefix)) stranded.push({ table: table.name, column, keyId: prefix, rows });
      }
    }
  }
  if (stranded.length > 0) throw new StrandedRowsError(stranded, context);
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
