import { codecFor, dataKeyFromSecretString } from '../codecs/index.js';
import type { Codec, DataKey } from '../codecs/types.js';
import { type CodecName, type RekeyConfig, type StoredTable, tableCodec } from '../config.js';
import { quoteIdentifier } from '../dialects.js';
import { UnexpectedAnswerError } from '../errors.js';
import { generateSecretValue } from '../secret-template.js';
import { asText, type TableSql } from '../sql.js';
import type { PassDeps, PassProgress } from './pass-deps.js';
import { openTables } from './reencrypt.js';
import { retried, scanColumn } from './scan.js';

/** The staging label a version is known by. */
export type KeyLabel = 'current' | 'pending' | 'previous';

/**
 * A staged version's value. `secretString` is secret: it never leaves the process; only key ids
 * (public, derived one way) and version ids are printed.
 */
export interface StagedValue {
  readonly label: KeyLabel;
  readonly versionId: string;
  readonly secretString: string;
}

/** Rows of one column by the key they are under. Counts only: never a value. */
export interface ColumnCensus {
  readonly table: string;
  readonly column: string;
  readonly codec: CodecName;
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

/** Counts added up over columns. */
export type CensusTotal = Omit<ColumnCensus, 'table' | 'column' | 'codec'>;

/** Options of a census. */
export interface CensusOptions {
  /** Only count tables whose codec has a key id in clear text (cheap aggregate queries, no scan). */
  readonly prefixOnly?: boolean;
}

/**
 * Counts the rows of every configured column by staged version, with each table's own codec and data
 * key field. Read-only. With a key id in clear text (rk1) it is a few aggregate queries per column;
 * otherwise (Fernet) it reads every value and asks the codec which key wrote it. When two labels hold
 * the same key, rows count under the first of `staged`, so pass them as current, pending, previous.
 */
export async function takeCensus(
  staged: readonly StagedValue[],
  deps: PassDeps,
  options: CensusOptions = {},
): Promise<ColumnCensus[]> {
  const result: ColumnCensus[] = [];
  const scans: { table: TableSql; keys: LabelledKeys; column: string; nonNull: number; avgBytes: number }[] =
    [];
  for (const table of await openTables(deps)) {
    const keys = labelledKeys(deps.config, table.table, staged);
    if (options.prefixOnly && !keys.codec.formatPrefix) continue;
    const rows = await countRows(deps, table);
    for (const column of table.table.columns) {
      const stats = await retried(deps, () => table.stats(column));
      const census = emptyCensus(table.name, column, keys.name, rows, rows - stats.rows);
      result.push(census);
      if (keys.codec.formatPrefix) await countByPrefix(keys, deps, table, column, stats.rows, census);
      else scans.push({ table, keys, column, nonNull: stats.rows, avgBytes: stats.avgBytes });
    }
  }
  const progress = { done: 0, total: scans.reduce((s, w) => s + w.nonNull, 0) };
  for (const w of scans) {
    const census = result.find((c) => c.table === w.table.name && c.column === w.column) as ColumnCensus;
    await classifyAll(w.keys, deps, w.table, w.column, w.avgBytes, census, progress, w.nonNull);
  }
  return result;
}

/** Adds up columns, for a total line. */
export function totalOf(columns: readonly ColumnCensus[]): CensusTotal {
  const { table: _t, column: _c, codec: _k, ...total } = emptyCensus('', '', 'rk1', 0, 0);
  for (const c of columns) {
    for (const k of ['rows', 'nulls', 'current', 'pending', 'previous', 'unknown', 'plaintext'] as const)
      total[k] += c[k];
    for (const [prefix, n] of Object.entries(c.unknownKeys))
      total.unknownKeys[prefix] = (total.unknownKeys[prefix] ?? 0) + n;
  }
  return total;
}

/**
 * The public ids of a value's data keys, one per distinct codec and data key field the tables use:
 * the rk1 prefix (`rk1:xxxxxxxx:`), or the codec's key id.
 */
export function keyIdsOf(config: RekeyConfig, secretString: string): string[] {
  const ids = new Set<string>();
  for (const table of config.storedFields) {
    const { codec, dataKeyField } = tableCodec(config, table);
    const key = dataKeyFromSecretString(secretString, dataKeyField, codec);
    ids.add(codecFor(codec).sqlPrefix(key) ?? key.kid);
  }
  return [...ids];
}

interface LabelledKeys {
  readonly name: CodecName;
  readonly codec: Codec;
  readonly keys: readonly { readonly label: KeyLabel; readonly key: DataKey }[];
  /** Any key of the codec, to learn the length of its key prefix when nothing is staged. */
  readonly sample: DataKey;
}

function labelledKeys(config: RekeyConfig, table: StoredTable, staged: readonly StagedValue[]): LabelledKeys {
  const { codec, dataKeyField } = tableCodec(config, table);
  const keys = staged.map((s) => ({
    label: s.label,
    key: dataKeyFromSecretString(s.secretString, dataKeyField, codec),
  }));
  const sample =
    keys[0]?.key ?? dataKeyFromSecretString(generateSecretValue(config.secretTemplate), dataKeyField, codec);
  return { name: codec, codec: codecFor(codec), keys, sample };
}

async function countByPrefix(
  keys: LabelledKeys,
  deps: PassDeps,
  table: TableSql,
  column: string,
  nonNull: number,
  census: ColumnCensus,
): Promise<void> {
  const { codec } = keys;
  const labels = new Map<string, KeyLabel>();
  for (const { label, key } of keys.keys) {
    const prefix = codec.sqlPrefix(key);
    if (prefix !== undefined && !labels.has(prefix)) labels.set(prefix, label);
  }
  const length = codec.sqlPrefix(keys.sample)?.length ?? 0;
  const counts = await retried(deps, () => table.countByPrefix(column, codec.formatPrefix as string, length));
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
  census.plaintext = nonNull - inFormat;
}

async function classifyAll(
  keys: LabelledKeys,
  deps: PassDeps,
  table: TableSql,
  column: string,
  avgBytes: number,
  census: ColumnCensus,
  progress: PassProgress,
  columnRows: number,
): Promise<void> {
  const all = keys.keys.map((k) => k.key);
  const where = { table: table.table.table, column };
  await scanColumn(
    deps,
    table,
    column,
    { avgBytes, skipPrefix: undefined, progress, columnRows },
    async (rows) => {
      for (const row of rows) {
        const found = keys.codec.classify(asText(row.value), all, where);
        if (found.kind === 'plaintext') census.plaintext++;
        else if (found.kind === 'key') {
          const label = keys.keys.find((k) => k.key.kid === found.key.kid)?.label;
          if (label) census[label]++;
          else census.unknown++;
        } else census.unknown++;
      }
      return { classified: rows.length };
    },
  );
}

/**
 * Every row of a table, NULL or not. TableSql has no statement for it (its counts are per column and
 * skip NULLs), so this one aggregate is built here from the same validated, quoted identifiers.
 */
async function countRows(deps: PassDeps, table: TableSql): Promise<number> {
  const { schema, table: name } = table.table;
  const quoted = quoteIdentifier(deps.db.dialect, name);
  const from = schema ? `${quoteIdentifier(deps.db.dialect, schema)}.${quoted}` : quoted;
  const result = await retried(deps, () =>
    deps.db.execute(`SELECT COUNT(*) FROM ${from}`, {}, { expectRows: true }),
  );
  const row = result.rows[0];
  // An aggregate without its row is an answer that was not asked for, never a count of 0.
  if (row === undefined || result.rows.length !== 1)
    throw new UnexpectedAnswerError(`one row of COUNT(*) over ${table.name}`, `${result.rows.length} rows`);
  return Number(row[0]);
}

function emptyCensus(
  table: string,
  column: string,
  codec: CodecName,
  rows: number,
  nulls: number,
): ColumnCensus {
  return {
    table,
    column,
    codec,
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
