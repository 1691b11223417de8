import type { Codec, DataKey } from '../../lambda/codecs/types.js';
import type { RekeyConfig } from '../../lambda/config.js';
import type { ProgressSink, SqlRunner } from '../../lambda/ports.js';
import { openTables } from '../../lambda/reencrypt.js';
import { retried, type ScanDeps, scanColumn } from '../../lambda/scan.js';
import { generateSecretValue } from '../../lambda/secret-template.js';
import { asText, quoteIdentifier, type TableSql } from '../../lambda/sql.js';

/** The staging label a key is known by. */
export type KeyLabel = 'current' | 'pending' | 'previous';

/** A key of a staged version. `key.material` is secret; only `kid` and the labels are ever printed. */
export interface StagedKey {
  readonly label: KeyLabel;
  readonly versionId: string;
  readonly key: DataKey;
}

/** Rows of one column by the key they are under. Counts only: never a value. */
export interface ColumnCensus {
  readonly table: string;
  readonly column: string;
  /** Every row of the table, NULL or not. */
  rows: number;
  nulls: number;
  current: number;
  pending: number;
  previous: number;
  /** In the codec's format but under no staged key. */
  unknown: number;
  /** Not in the codec's format at all. */
  plaintext: number;
  /** For a codec with a key id in clear text: unknown rows by key prefix (as in StrandedRowsError). */
  readonly unknownKeys: Record<string, number>;
}

/** What a census needs: the scan collaborators, the database, and an optional progress sink. */
export interface CensusDeps extends ScanDeps {
  readonly db: SqlRunner;
  readonly progress?: ProgressSink;
}

/**
 * Counts the rows of every configured column by key version. Read-only. With a key id in clear text
 * (rk1) it is a few aggregate queries per column; otherwise (Fernet) it reads every value and asks the
 * codec which key wrote it. When two labels share a key, rows count under the first of `staged`, so
 * pass them as current, pending, previous.
 */
export async function takeCensus(
  codec: Codec,
  staged: readonly StagedKey[],
  deps: CensusDeps,
): Promise<ColumnCensus[]> {
  const tables = await openTables(deps.db, deps.config);
  const result: ColumnCensus[] = [];
  const byPrefix = codec.formatPrefix !== undefined;
  const work: { table: TableSql; column: string; nonNull: number; avgBytes: number }[] = [];
  for (const table of tables) {
    const rows = await countRows(deps, table);
    for (const column of table.table.columns) {
      const stats = await retried(deps, () => table.stats(column));
      work.push({ table, column, nonNull: stats.rows, avgBytes: stats.avgBytes });
      result.push(emptyCensus(table.name, column, rows, rows - stats.rows));
    }
  }
  const progress = { done: 0, total: work.reduce((s, w) => s + w.nonNull, 0) };
  for (const [i, w] of work.entries()) {
    const census = result[i] as ColumnCensus;
    if (byPrefix) await countByPrefix(codec, staged, deps, w, census);
    else await classifyAll(codec, staged, deps, w, census, progress);
  }
  return result;
}

/** Adds up columns, e.g. for a total line. */
export function totalOf(columns: readonly ColumnCensus[]): Omit<ColumnCensus, 'table' | 'column'> {
  const total = emptyCensus('', '', 0, 0);
  for (const c of columns) {
    for (const k of ['rows', 'nulls', 'current', 'pending', 'previous', 'unknown', 'plaintext'] as const)
      total[k] += c[k];
    for (const [prefix, n] of Object.entries(c.unknownKeys))
      total.unknownKeys[prefix] = (total.unknownKeys[prefix] ?? 0) + n;
  }
  const { table: _t, column: _c, ...rest } = total;
  return rest;
}

async function countByPrefix(
  codec: Codec,
  staged: readonly StagedKey[],
  deps: CensusDeps,
  w: { table: TableSql; column: string; nonNull: number },
  census: ColumnCensus,
): Promise<void> {
  const formatPrefix = codec.formatPrefix as string;
  const labels = new Map<string, KeyLabel>();
  for (const s of staged) {
    const prefix = codec.sqlPrefix(s.key);
    if (prefix !== undefined && !labels.has(prefix)) labels.set(prefix, s.label);
  }
  const length = codec.sqlPrefix(staged[0]?.key ?? throwawayKey(codec, deps.config))?.length ?? 0;
  const counts = await retried(deps, () => w.table.countByPrefix(w.column, formatPrefix, length));
  let inFormat = 0;
  for (const [prefix, n] of counts) {
    inFormat += n;
    const label = labels.get(prefix);
    if (label) census[label] += n;
    else {
      census.unknown += n;
      census.unknownKeys[prefix] = (census.unknownKeys[prefix] ?? 0) + n;
    }
  }
  census.plaintext = w.nonNull - inFormat;
}

async function classifyAll(
  codec: Codec,
  staged: readonly StagedKey[],
  deps: CensusDeps,
  w: { table: TableSql; column: string; avgBytes: number },
  census: ColumnCensus,
  progress: { done: number; readonly total: number },
): Promise<void> {
  const keys = staged.map((s) => s.key);
  const where = { table: w.table.table.table, column: w.column };
  await scanColumn(
    deps,
    w.table,
    w.column,
    { avgBytes: w.avgBytes, skipPrefix: undefined, progress },
    async (rows) => {
      for (const row of rows) {
        const found = codec.classify(asText(row.value), keys, where);
        if (found.kind === 'plaintext') census.plaintext++;
        else if (found.kind === 'key') {
          const label = staged.find((s) => s.key.kid === found.key.kid)?.label;
          if (label) census[label]++;
          else census.unknown++;
        } else census.unknown++;
      }
      deps.progress?.({
        table: w.table.name,
        column: w.column,
        done: progress.done + rows.length,
        total: progress.total,
      });
      return { classified: rows.length };
    },
  );
}

/**
 * Every row of a table, NULL or not. TableSql has no statement for it (its counts are per column and
 * skip NULLs), so this one aggregate is built here from the same validated, quoted identifiers.
 */
async function countRows(deps: CensusDeps, table: TableSql): Promise<number> {
  const { schema, table: name } = table.table;
  const quoted = quoteIdentifier(deps.db.dialect, name);
  const from = schema ? `${quoteIdentifier(deps.db.dialect, schema)}.${quoted}` : quoted;
  const result = await retried(deps, () => deps.db.execute(`SELECT COUNT(*) FROM ${from}`));
  return Number(result.rows[0]?.[0] ?? 0);
}

/** A key that no version holds, only to learn the length of the codec's key prefix. */
function throwawayKey(codec: Codec, config: RekeyConfig): DataKey {
  const value = JSON.parse(generateSecretValue(config.secretTemplate)) as Record<string, string>;
  return codec.deriveKey(value[config.dataKeyField] as string);
}

function emptyCensus(table: string, column: string, rows: number, nulls: number): ColumnCensus {
  return {
    table,
    column,
    rows,
    nulls,
    current: 0,
    pending: 0,
    previous: 0,
    unknown: 0,
    plaintext: 0,
    unknownKeys: {},
  };
}
