import { codecFor, dataKeyFromSecretString } from '../codecs/index.js';
import type { DataKey } from '../codecs/types.js';
import {
  type CodecName,
  IDENTIFIER_PATTERN,
  type RekeyConfig,
  type StoredTable,
  tableCodec,
} from '../config.js';
import { BINARY_TYPES, type CensusDialect, dialectOf, type Engine } from '../dialects.js';
import {
  ConfigError,
  RekeyError,
  SecretFormatError,
  StatementTooSlowError,
  UnexpectedAnswerError,
} from '../errors.js';
import type { SqlResult, SqlRunner, SqlValue } from '../ports.js';
import { DEFAULT_RETRY } from '../retry.js';
import { asText, type IdRange, oneRow, TableSql } from '../sql.js';
import type { KeyVersions } from '../table-keys.js';
import type { KeyLabel, StagedValue } from './census.js';
import type { PassDeps } from './pass-deps.js';
import { pageRowsFor, retried, scanColumn } from './scan.js';
import { pacedPass } from './streams.js';

/**
 * A census of the whole database: every text and binary column the configuration does not list is
 * checked for values in a codec's format under a key of one of the secret's staged versions. A column
 * the config forgets keeps its values under the old key through a rotation, readable for one more
 * rotation and then unstaged; this is how rekey finds it before that happens. Read-only: catalog
 * lookups and SELECTs through the SqlRunner (ExecuteStatement), nothing else.
 */

/** A staging label, or `unknown` for a value in a codec's format under no staged key. */
export type FoundLabel = KeyLabel | 'unknown';

/** The formats the census looks for: `rk1` (key id in clear text) and Fernet (either key derivation). */
export type CensusFormat = 'rk1' | 'fernet';

/** Values of one column in one format under one key. Counts and public key ids only, never a value. */
export interface FoundCiphertext {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
  readonly format: CensusFormat;
  readonly label: FoundLabel;
  /** The public key id: the `rk1:xxxxxxxx:` prefix, or the Fernet key's id; none for unknown Fernet keys. */
  readonly keyId: string | undefined;
  /** The staged version that holds the key, when known. */
  readonly versionId: string | undefined;
  /** The template field whose key it is (and the codec that derives it), when known. */
  readonly field: string | undefined;
  readonly codec: CodecName | undefined;
  /** Rows: exact (every value counted) or found in a sample. */
  readonly rows: number;
  readonly exact: boolean;
  /** For a sample: how many values in the format were read, and how many the column holds. */
  readonly sampled?: number;
  readonly candidates?: number;
}

/** A column the census could not check, and why (a name it cannot quote, a refused SELECT, no time). */
export interface UncheckedColumn {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
  readonly reason: string;
}

/** What the census found and what it cost. */
export interface DatabaseCensus {
  readonly found: readonly FoundCiphertext[];
  /** Columns checked (text, varchar, char, binary; long enough for a ciphertext). */
  readonly checked: number;
  /** Of those, columns holding values in Fernet format (each costs one more statement, or pages with `full`). */
  readonly fernetColumns: number;
  /** Columns left out: listed in storedFields (or their id), in ignoredColumns, or too short to hold a ciphertext. */
  readonly skipped: { readonly configured: number; readonly ignored: number; readonly tooShort: number };
  readonly unchecked: readonly UncheckedColumn[];
  /** Whether Fernet values were all read (`full`) or a sample of `sampleRows` per column. */
  readonly full: boolean;
  readonly sampleRows: number;
  /**
   * Statements of the tables' screens (one a table of several columns) and of the aggregates of the
   * columns that hold either format or are alone in their table: one each, or on MySQL one a chunk of
   * the table's primary key (see SCAN_CHUNK_ROWS); and of the lookups those chunks need (the primary
   * keys, each such table's catalog; none on PostgreSQL). What the plan predicts the sampled census from.
   */
  readonly aggregates: number;
  readonly lookups: number;
  /**
   * Statements of the Fernet samples of the sampled census (counted also where `full` read every value
   * instead): one a column holding Fernet values, or one a chunk holding some.
   */
  readonly samples: number;
  /** Statements sent, rows they returned, and the time it took. */
  readonly cost: { readonly statements: number; readonly rowsRead: number; readonly durationMs: number };
}

/** Options of a census. */
export interface DatabaseCensusOptions {
  /** Fernet values read per column to tell their key (HMAC); default 200. */
  readonly sampleRows?: number;
  /** Read every Fernet value (exact counts) instead of a sample. */
  readonly full?: boolean;
  /**
   * Rows of a table an aggregate reads at most a statement, on either engine (TableSqlOptions.chunkRows);
   * tests ask for few. @default SCAN_CHUNK_ROWS on MySQL; one statement on PostgreSQL.
   */
  readonly chunkRows?: number;
}

/** The default sample per column: enough to see a key that writes a few percent of a column's values. */
export const DEFAULT_CENSUS_SAMPLE_ROWS = 200;

/** A Fernet token is base64url of version byte 0x80 and a 64-bit timestamp below 2^36: 'gAAAAA'. */
const FERNET_TEXT_PREFIX = 'gAAAAA';
const RK1_FORMAT_PREFIX = 'rk1:';
/** `rk1:` + 8-character key id + `:`. */
const RK1_KEY_PREFIX_LENGTH = 13;
/** The shortest value in either format: an rk1 value of an empty plaintext (51 characters). */
const MIN_CIPHERTEXT_CHARS = 51;
/** Values larger than this cannot come back through the Data API (64 KB rows, less room for the rest). */
const READABLE_BYTES = 64 * 1024 - 1024;
/** At most this many characters of a database error go into a report. */
const REASON_CHARS = 200;

/** A key of a staged version, with where it comes from. Secret: `key.material` never leaves. */
interface CandidateKey {
  readonly label: KeyLabel;
  readonly versionId: string | undefined;
  readonly field: string;
  readonly codec: CodecName;
  readonly key: DataKey;
}

/** One column of the catalog. */
interface CatalogColumn {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
  readonly binary: boolean;
}

/**
 * Takes the census: reads the catalog, then checks every text and binary column that the config does
 * not list (nor its tables' id columns) and does not ignore, a table's columns screened together
 * first (screenTable) so that only those holding either format cost more. rk1 values are counted by
 * key id in SQL (`SUBSTRING(col, 1, 13) ... GROUP BY`: exact, one aggregate per column); Fernet values
 * are found by format (`gAAAAA`) in the same aggregate, and a sample of them (`sampleRows`, in a stable
 * pseudo-random order, `ORDER BY MD5(col)`) is matched against every staged key's HMAC; `full` reads
 * them all instead.
 * Keys tried: every `aes-256` template field as rk1, every `fernet` field as Fernet, and every field as
 * fernet-sha256 (sqlalchemy-utils' derivation), of each staged version. Columns with nothing in either
 * format are not listed. Read-only. A column whose SELECT the database refuses is reported as unchecked;
 * so are the columns left when the deadline (less `safetyMarginMs`) comes.
 * @throws the catalog lookup's errors; rekey's own (UnexpectedAnswerError) from any statement.
 */
export async function takeDatabaseCensus(
  staged: KeyVersions | readonly StagedValue[],
  deps: PassDeps,
  options: DatabaseCensusOptions = {},
): Promise<DatabaseCensus> {
  const started = deps.clock.now();
  const cost = { statements: 0, rowsRead: 0 };
  const paced = pacedPass(deps).deps;
  const db = countingRunner(paced.db, cost);
  const dialect = dialectOf(db.dialect).census;
  const sampleRows = Math.max(1, Math.floor(options.sampleRows ?? DEFAULT_CENSUS_SAMPLE_ROWS));
  const keys = candidateKeys(deps.config, stagedValues(staged));
  const catalog = await retried(deps, () => db.execute(dialect.catalog, {}, { expectRows: true }));
  const skipped = { configured: 0, ignored: 0, tooShort: 0 };
  const columns: CatalogColumn[] = [];
  for (const row of catalog.rows) {
    const [schema, table, column, type, maxLength] = row.map((v) => (v === null ? null : text(v)));
    if (!schema || !table || !column || !type) continue;
    if (isConfigured(deps.config, db.dialect, schema, table, column)) skipped.configured++;
    else if (isIgnored(deps.config, db.dialect, schema, table, column)) skipped.ignored++;
    else if (maxLength !== null && Number(maxLength) < MIN_CIPHERTEXT_CHARS) skipped.tooShort++;
    else columns.push({ schema, table, column, binary: BINARY_TYPES.has(type.toLowerCase()) });
  }
  // Where a whole-column aggregate reads in chunks of the primary key (MySQL, or chunks asked for),
  // and for `full`'s pages.
  const chunked = dialectOf(db.dialect).scansInChunks || options.chunkRows !== undefined;
  const primaryKeys = new Map<string, string>();
  // The lookups the chunks need, which the sampled census (testSecret's) takes too.
  const lookups = { statements: 0 };
  if (options.full || chunked) {
    if (chunked) lookups.statements++;
    const keys = await retried(deps, () => db.execute(dialect.primaryKeys, {}, { expectRows: true }));
    for (const [schema, table, column] of keys.rows)
      if (schema && table && column) primaryKeys.set(`${text(schema)}.${text(table)}`, text(column));
  }
  const keyedTables = new Map<string, Promise<TableSql | undefined>>();
  const keyedTable = (c: CatalogColumn): Promise<TableSql | undefined> => {
    const name = `${c.schema}.${c.table}`;
    const primaryKey = primaryKeys.get(name);
    if (primaryKey === undefined) return Promise.resolve(undefined);
    let table = keyedTables.get(name);
    if (!table) {
      const sameTable = columns.filter((o) => o.schema === c.schema && o.table === c.table && plain(o));
      if (chunked) lookups.statements++;
      table = openByKey(c, primaryKey, sameTable, { ...paced, db }, options.chunkRows);
      keyedTables.set(name, table);
    }
    return table;
  };
  const stopBy = deps.deadline - deps.config.safetyMarginMs;
  // One timeout leaves a column unchecked: its statements read (no row lock makes them wait), so one
  // past the Data API's 45 s would be past it again, and three tries of every such column of a large
  // database would spend the invocation testSecret needs for its own reads.
  const censusRetry = { ...(deps.retry ?? DEFAULT_RETRY), timeoutAttempts: 1 };
  const checkOne = async (c: CatalogColumn): Promise<ColumnOutcome> => {
    const where = { schema: c.schema, table: c.table, column: c.column };
    if (!plain(c))
      return { unchecked: [{ ...where, reason: 'not a plain identifier, which rekey does not quote' }] };
    if (deps.clock.now() > stopBy)
      return { unchecked: [{ ...where, reason: 'not reached before the deadline' }] };
    try {
      const result = await checkColumn(c, keys, { ...paced, db, retry: censusRetry }, dialect, {
        sampleRows,
        full: options.full === true,
        table: options.full || chunked ? await keyedTable(c) : undefined,
        stopBy,
      });
      return {
        checked: result,
        unchecked: result.partial ? [{ ...where, reason: result.partial }] : [],
      };
    } catch (error) {
      // Our own errors (an answer without its rows, a deadline) are not the database refusing a column;
      // a column too large to aggregate within the Data API's 45 s is, like a SELECT it refuses.
      if (error instanceof RekeyError && !(error instanceof StatementTooSlowError)) throw error;
      return { unchecked: [{ ...where, reason: reasonOf(error) }] };
    }
  };
  const workers = deps.config.pacing.maxConcurrentStatements;
  // A table's columns are screened together first (screenTable): the many that hold names and
  // addresses then cost no aggregate of their own. What a screen cannot settle is checked a column at a
  // time. Tables and columns are checked side by side (the pacer bounds the statements), each outcome
  // in its catalog place, so a database of many small tables costs a few round trips.
  const screens = { statements: 0 };
  const outcomes: (ColumnOutcome | undefined)[] = new Array(columns.length);
  const groups = tablesOfSeveralColumns(columns);
  await eachOnWorkers(groups, workers, async (group) => {
    const first = columns[group[0] as number] as CatalogColumn;
    if (deps.clock.now() > stopBy) return; // left to checkOne, which reports the deadline
    const table = chunked ? await keyedTable(first) : undefined;
    // Where aggregates read in chunks (MySQL), a table with no key to chunk by is read whole by every
    // statement, and there one screen evaluates every column of every row: on MariaDB 10.11 it took
    // 25-34 s over a 10M-row table of four text columns, one column's aggregate 9.5 s. Its columns'
    // aggregates, side by side, are each further from 45 s.
    if (chunked && table === undefined) return;
    const screened = await screenTable(
      group.map((i) => columns[i] as CatalogColumn),
      { ...paced, db, retry: censusRetry },
      dialect,
      { table, stopBy },
    );
    screens.statements += screened.statements;
    group.forEach((column, i) => {
      const c = columns[column] as CatalogColumn;
      const where = { schema: c.schema, table: c.table, column: c.column };
      if (screened.stopped)
        outcomes[column] = { unchecked: [{ ...where, reason: 'not finished before the deadline' }] };
      else if (screened.holding?.[i] === false)
        outcomes[column] = {
          checked: { found: [], fernet: false, aggregates: 0, samples: 0 },
          unchecked: [],
        };
    });
  });
  const left = columns.flatMap((_, i) => (outcomes[i] === undefined ? [i] : []));
  await eachOnWorkers(left, workers, async (i) => {
    outcomes[i] = await checkOne(columns[i] as CatalogColumn);
  });
  // Every column has its outcome: the screen's, else checkOne's (eachOnWorkers throws when one failed).
  const settled = outcomes.filter((o): o is ColumnOutcome => o !== undefined);
  const found = settled.flatMap((o) => o.checked?.found ?? []);
  const unchecked = settled.flatMap((o) => o.unchecked);
  const checked = settled.filter((o) => o.checked).length;
  const fernetColumns = settled.filter((o) => o.checked?.fernet).length;
  const aggregates = settled.reduce((sum, o) => sum + (o.checked?.aggregates ?? 0), screens.statements);
  const samples = settled.reduce((sum, o) => sum + (o.checked?.samples ?? 0), 0);
  return {
    found,
    checked,
    fernetColumns,
    skipped,
    unchecked,
    full: options.full === true,
    sampleRows,
    aggregates,
    lookups: lookups.statements,
    samples,
    cost: { ...cost, durationMs: deps.clock.now() - started },
  };
}

/**
 * Ciphertext under a staged key sits in a column the config neither lists nor ignores: a rotation would
 * leave it under the old key, readable for one more rotation and then not at all. Carries the columns
 * as data (`found`), with counts and public key ids, never a value.
 */
export class UnlistedCiphertextError extends ConfigError {
  constructor(
    readonly found: readonly FoundCiphertext[],
    readonly census: DatabaseCensus,
    options?: { cause?: unknown },
  ) {
    super(
      `${new Set(found.map(columnName)).size} columns outside the configuration hold ciphertext under a staged key, ` +
        `which a rotation does not re-encrypt: ${found.map(describeFound).join('; ')}. Once that version is no ` +
        'longer staged these values cannot be decrypted. Add each column to storedFields (its table, a unique id ' +
        'column and the column) so that rotations re-encrypt it, or to ignoredColumns with a reason to leave it ' +
        'out knowingly (docs/plan.md)',
      options,
    );
    this.name = 'UnlistedCiphertextError';
  }
}

/**
 * The rotation's check (testSecret): runs the sampled census and refuses when a staged version's key
 * encrypts values in a column the config neither lists nor ignores. Columns it could not check are
 * logged as a warning, not fatal (the census is a guard, not the proof testSecret gives for the listed
 * columns). Read-only: only SELECTs, so the Lambda needs nothing beyond ExecuteStatement.
 * @param staged the step's key versions (target: AWSPENDING; sources: AWSCURRENT, then AWSPREVIOUS),
 *   or labelled staged values.
 * @returns the census, for a log line or a report.
 * @throws UnlistedCiphertextError (a ConfigError) naming the columns, rows and key versions.
 */
export async function checkUnlistedCiphertext(
  staged: KeyVersions | readonly StagedValue[],
  deps: PassDeps,
  options: DatabaseCensusOptions = {},
): Promise<DatabaseCensus> {
  const census = await takeDatabaseCensus(staged, deps, options);
  const underStaged = census.found.filter((f) => f.label !== 'unknown');
  deps.log.info('census of the database', {
    ...deps.logFields,
    columns: census.checked,
    found: underStaged.length,
    statements: census.cost.statements,
    rows: census.cost.rowsRead,
    durationMs: census.cost.durationMs,
  });
  if (census.unchecked.length > 0) {
    deps.log.warn('census: columns not checked', {
      ...deps.logFields,
      columns: census.unchecked.length,
      first: census.unchecked.slice(0, 5).map((u) => `${u.schema}.${u.table}.${u.column}: ${u.reason}`),
    });
  }
  if (underStaged.length > 0) throw new UnlistedCiphertextError(underStaged, census);
  return census;
}

/** `schema.table.column`. */
export function columnName(c: { readonly schema: string; readonly table: string; readonly column: string }) {
  return `${c.schema}.${c.table}.${c.column}`;
}

/** One finding as a phrase: where, how many, under which version. */
export function describeFound(f: FoundCiphertext): string {
  const count = f.exact
    ? `${f.rows} rows`
    : `${f.rows} of ${f.sampled} sampled ${f.format} values (of ${f.candidates})`;
  const key = f.label === 'unknown' ? 'an unknown key' : `AWS${f.label.toUpperCase()}`;
  return `${columnName(f)}: ${count} under ${key}${f.keyId ? ` (key id ${f.keyId})` : ''}`;
}

/** One column's part of the census: what it holds when it was checked, and what was left unchecked. */
interface ColumnOutcome {
  readonly checked?: {
    readonly found: readonly FoundCiphertext[];
    readonly fernet: boolean;
    readonly aggregates: number;
    readonly samples: number;
  };
  readonly unchecked: readonly UncheckedColumn[];
}

/** What one column holds, and whether part of it could not be read. */
async function checkColumn(
  c: CatalogColumn,
  keys: readonly CandidateKey[],
  deps: PassDeps,
  dialect: CensusDialect,
  options: {
    readonly sampleRows: number;
    readonly full: boolean;
    /** The column's table, paged by its primary key (MySQL's chunks, and `full`), when it has one. */
    readonly table: TableSql | undefined;
    readonly stopBy: number;
  },
): Promise<{
  found: FoundCiphertext[];
  fernet: boolean;
  aggregates: number;
  samples: number;
  partial?: string;
}> {
  const sql = columnSql(c, deps, dialect);
  const { from, v, p, bind, isFernet } = sql;
  const formats = await countFormats(sql, deps, options);
  const where = { schema: c.schema, table: c.table, column: c.column };
  const found: FoundCiphertext[] = [];
  const rk1Keys = new Map<string, CandidateKey>();
  for (const k of keys) {
    const prefix = k.codec === 'rk1' ? codecFor('rk1').sqlPrefix(k.key) : undefined;
    if (prefix !== undefined && !rk1Keys.has(prefix)) rk1Keys.set(prefix, k);
  }
  const fernet = formats.fernet;
  const aggregates = formats.statements;
  for (const [prefix, rows] of formats.rk1) {
    const k = rk1Keys.get(prefix);
    found.push({
      ...where,
      format: 'rk1',
      label: k?.label ?? 'unknown',
      keyId: prefix,
      versionId: k?.versionId,
      field: k?.field,
      codec: k ? 'rk1' : undefined,
      rows,
      exact: true,
    });
  }
  // What the chunks read before the deadline is found all the same: a staged key's values there fail the step.
  if (formats.stopped)
    return { found, fernet: false, aggregates, samples: 0, partial: 'not finished before the deadline' };
  if (!fernet || fernet.rows === 0) return { found, fernet: false, aggregates, samples: 0 };
  const fernetKeys = keys.filter((k) => k.codec !== 'rk1');
  const tally = new Map<CandidateKey | undefined, number>();
  const classify = (value: SqlValue, times: number) => {
    const token = text(value ?? '');
    const result = codecFor('fernet').classify(
      token,
      fernetKeys.map((k) => k.key),
      { table: c.table, column: c.column },
    );
    if (result.kind === 'plaintext') return; // shaped like a token at the start only: not one
    const k = result.kind === 'key' ? fernetKeys.find((x) => x.key === result.key) : undefined;
    tally.set(k, (tally.get(k) ?? 0) + times);
  };
  const readable = `${isFernet} AND OCTET_LENGTH(${v}) <= ${READABLE_BYTES}`;
  const pageRows = pageRowsFor(fernet.avgBytes, dialect.binary(c.binary), deps.config);
  let read = 0;
  // What the sampled census's sample takes, also counted where `full` reads every value instead.
  let samples = formats.fernetRanges?.length ?? 1;
  let partialReason: string | undefined;
  const byId =
    options.full && options.table !== undefined
      ? await readById(c, options.table, deps, (value) => {
          if (!text(value).startsWith(FERNET_TEXT_PREFIX)) return;
          classify(value, 1);
          read++;
        })
      : false;
  if (options.full && !byId) {
    // Distinct values in order, with how often each occurs: keyset pages that need no id column, but
    // each page makes the database scan and sort the column's Fernet values again.
    let after: SqlValue | undefined;
    for (;;) {
      const params: Record<string, SqlValue> = { fernet: bind(FERNET_TEXT_PREFIX) };
      if (after !== undefined) params.after = after;
      const page = await retried(deps, () =>
        deps.db.execute(
          `SELECT ${v} AS v, COUNT(*) FROM ${from} WHERE ${readable}${after === undefined ? '' : ` AND ${v} > ${p('after')}`} ` +
            `GROUP BY ${v} ORDER BY ${v} LIMIT ${pageRows}`,
          params,
          { expectRows: true },
        ),
      );
      for (const [value, times] of page.rows) {
        classify(value ?? null, Number(times));
        read += Number(times);
      }
      const last = page.rows.at(-1);
      if (page.rows.length < pageRows || last === undefined) break;
      after = last[0] ?? null;
    }
  } else if (!options.full) {
    const limit = Math.min(options.sampleRows, pageRows);
    const statement = (ids: string, params: Record<string, SqlValue>) =>
      retried(deps, () =>
        deps.db.execute(
          `SELECT ${v} AS v, MD5(${v}) AS h FROM ${from} WHERE ${readable}${ids ? ` AND ${ids}` : ''} ORDER BY MD5(${v}) LIMIT ${limit}`,
          { ...params, fernet: bind(FERNET_TEXT_PREFIX) },
          { expectRows: true },
        ),
      );
    const sample = await sampleInRanges(statement, formats.fernetRanges, options, limit, deps.clock);
    samples = sample.statements;
    for (const value of sample.values) classify(value, 1);
    read = sample.values.length;
    // Cut short by the deadline, the sample is of the chunks read; what it finds is found all the same.
    if (sample.stopped) partialReason = 'not finished before the deadline';
  }
  const exact = options.full;
  for (const [k, rows] of tally) {
    found.push({
      ...where,
      format: 'fernet',
      label: k?.label ?? 'unknown',
      keyId: k?.key.kid,
      versionId: k?.versionId,
      field: k?.field,
      codec: k?.codec,
      rows,
      exact,
      ...(exact ? {} : { sampled: read, candidates: fernet.rows }),
    });
  }
  const partial =
    partialReason ??
    (fernet.maxBytes > READABLE_BYTES
      ? `some values in Fernet format are larger than the Data API's 64 KB row limit and were not read`
      : undefined);
  const counted = { found, fernet: true, aggregates, samples };
  return partial ? { ...counted, partial } : counted;
}

/** The pieces of a column's census statements: its table, its value as compared, its parameters. */
interface ColumnSql {
  readonly from: string;
  readonly v: string;
  p(name: string): string;
  bind(value: string): SqlValue;
  /** Whether the value is in Fernet format (binds `fernet`). */
  readonly isFernet: string;
}

function columnSql(c: CatalogColumn, deps: PassDeps, dialect: CensusDialect): ColumnSql {
  const { quote } = dialectOf(deps.db.dialect);
  const v = dialect.value(quote(c.column));
  const p = (name: string) => dialect.param(name, c.binary);
  return {
    from: `${quote(c.schema)}.${quote(c.table)}`,
    v,
    p,
    bind: (value) => dialect.bind(value, c.binary),
    isFernet: `SUBSTRING(${v}, 1, ${FERNET_TEXT_PREFIX.length}) = ${p('fernet')}`,
  };
}

/**
 * The catalog places of the plain columns of each table that has several, a list per table: the
 * columns that screenTable reads together.
 */
function tablesOfSeveralColumns(columns: readonly CatalogColumn[]): number[][] {
  const byTable = new Map<string, number[]>();
  columns.forEach((c, i) => {
    if (!plain(c)) return;
    const name = `${c.schema}.${c.table}`;
    byTable.set(name, [...(byTable.get(name) ?? []), i]);
  });
  return [...byTable.values()].filter((group) => group.length > 1);
}

/**
 * Runs `work` on every item, `workers` at a time, and waits for the workers in flight when one fails.
 * @throws the first failure.
 */
async function eachOnWorkers<T>(
  items: readonly T[],
  workers: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const count = Math.max(1, Math.min(items.length, workers));
  const settled = await Promise.allSettled(Array.from({ length: count }, worker));
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}

/** Which of a table's columns hold a value in either format; `holding` absent when it could not tell. */
interface TableScreen {
  readonly holding: readonly boolean[] | undefined;
  readonly statements: number;
  /** Whether the deadline came between chunks (then `holding` is of the rows read before it). */
  readonly stopped: boolean;
}

/**
 * Whether each of a table's columns holds any value in either format (rk1's `rk1:`, Fernet's
 * `gAAAAA`), in one statement over the table, or where the census reads in chunks (MySQL) one a chunk
 * of its primary key whose derived table holds only a flag per column, not the values (a table with
 * no such key is not screened there). A column that holds none needs no aggregate of its own, and
 * most text columns hold names and addresses. Measured on a 2M-row table of four text columns holding
 * none: PostgreSQL 15 1.22 s against 0.5 s for one column's aggregate; MariaDB 10.11 0.41-0.60 s a
 * 250,000-row chunk against 0.33-0.57 s for one column's. A screen the database refuses or ends (its
 * 45 s) leaves `holding` absent: the columns are then checked one at a time, as before.
 * @throws rekey's own errors (an answer that is not the one row asked for).
 */
async function screenTable(
  columns: readonly CatalogColumn[],
  deps: PassDeps,
  dialect: CensusDialect,
  options: { readonly table: TableSql | undefined; readonly stopBy: number },
): Promise<TableScreen> {
  const params: Record<string, SqlValue> = {};
  const conditions = columns.map((c) => {
    const { v } = columnSql(c, deps, dialect);
    // A parameter per format and kind of column: PostgreSQL casts it to the column's type.
    const kind = c.binary ? 'Bytes' : 'Text';
    params[`rk1${kind}`] = dialect.bind(RK1_FORMAT_PREFIX, c.binary);
    params[`fernet${kind}`] = dialect.bind(FERNET_TEXT_PREFIX, c.binary);
    return (
      `CASE WHEN SUBSTRING(${v}, 1, ${RK1_FORMAT_PREFIX.length}) = ${dialect.param(`rk1${kind}`, c.binary)} ` +
      `OR SUBSTRING(${v}, 1, ${FERNET_TEXT_PREFIX.length}) = ${dialect.param(`fernet${kind}`, c.binary)} THEN 1 ELSE 0 END`
    );
  });
  const asked = `a count of the values in rk1 or Fernet format in each of ${columns.length} columns`;
  const holding = columns.map(() => false);
  const add = (row: readonly SqlValue[]) => {
    if (row.length < columns.length + 1)
      throw new UnexpectedAnswerError(asked, `a row of ${row.length} values`);
    const rows = countOf(row[0], asked);
    columns.forEach((_, i) => {
      // SUM over no rows is NULL; over rows, a number.
      if (rows > 0 && countOf(row[i + 1], asked) > 0) holding[i] = true;
    });
    return rows;
  };
  let statements = 0;
  let stopped = false;
  try {
    const { idText } = dialectOf(deps.db.dialect);
    const byChunk = await options.table?.forEachChunk(
      conditions.map((condition, i) => `${condition} AS f${i}`).join(', '),
      async (chunk, chunkParams) => {
        if (deps.clock.now() > options.stopBy) {
          stopped = true;
          return { scanned: 0, end: undefined };
        }
        statements++;
        const sums = columns.map((_, i) => `SUM(s.f${i})`).join(', ');
        const result = await retried(deps, () =>
          deps.db.execute(
            `SELECT COUNT(*), ${sums}, CAST(MAX(s.k) AS ${idText}) FROM (${chunk}) AS s`,
            { ...chunkParams, ...params },
            { expectRows: true },
          ),
        );
        const row = oneRow(result.rows, asked);
        return { scanned: add(row), end: row[columns.length + 1] };
      },
    );
    if (!byChunk) {
      statements++;
      const result = await retried(deps, () =>
        deps.db.execute(
          `SELECT COUNT(*), ${conditions.map((c) => `SUM(${c})`).join(', ')} FROM ${columnSql(columns[0] as CatalogColumn, deps, dialect).from}`,
          params,
          { expectRows: true },
        ),
      );
      add(oneRow(result.rows, asked));
    }
  } catch (error) {
    // The database refusing the screen (a column's type, its 45 s) says nothing of a column alone.
    if (error instanceof RekeyError && !(error instanceof StatementTooSlowError)) throw error;
    return { holding: undefined, statements, stopped: false };
  }
  return { holding, statements, stopped };
}

/** A count in an answer: a number, or NULL (SUM over no rows) as 0; anything else is not one. */
function countOf(value: SqlValue | undefined, asked: string): number {
  if (value === null) return 0;
  const n = Number(value);
  if (value === undefined || typeof value === 'boolean' || !Number.isFinite(n) || n < 0)
    throw new UnexpectedAnswerError(asked, 'a value that is not a count');
  return n;
}

/** A column's values by format: rk1 rows by key prefix, and the Fernet-shaped rows with their sizes. */
interface FormatCounts {
  readonly rk1: ReadonlyMap<string, number>;
  readonly fernet:
    | { readonly rows: number; readonly maxBytes: number; readonly avgBytes: number }
    | undefined;
  /** Statements sent: one, or one a chunk. */
  readonly statements: number;
  /** Whether the deadline came between chunks: the counts are of the rows read before it. */
  readonly stopped: boolean;
  /** The chunks that hold Fernet-shaped values, when counted in chunks: where the sample reads. */
  readonly fernetRanges?: readonly IdRange[];
}

/**
 * The column's one aggregate: rk1 values by key prefix, Fernet-shaped values as one group (''), with
 * their sizes. On MySQL, for a table with a one-column primary key, one statement a chunk of that key
 * instead (TableSql.forEachChunk): as one statement it read a 10M-row column in 50.5-52.1 s on a
 * 2-vCPU MariaDB 10.11 with its default buffer pool, past the Data API's 45 s, so the column was left
 * unchecked; in chunks at most 1.20 s a statement, 42.8 s in all (bench/whole-column-cost.ts). The
 * deadline is checked between chunks.
 */
async function countFormats(
  sql: ColumnSql,
  deps: PassDeps,
  options: { readonly table: TableSql | undefined; readonly stopBy: number },
): Promise<FormatCounts> {
  const { from, v, p, bind, isFernet } = sql;
  const { idText } = dialectOf(deps.db.dialect);
  const rk1 = new Map<string, number>();
  const fernet = { rows: 0, maxBytes: 0, sumBytes: 0 };
  let statements = 0;
  let stopped = false;
  const fernetRanges: IdRange[] = [];
  // Each chunk's derived table holds the value's group and size, not the value: 0.48-0.52 s a chunk of
  // 250,000 229-byte rk1 values on MariaDB 10.11 against 0.67-0.69 s holding the values.
  const grouped =
    `CASE WHEN SUBSTRING(${v}, 1, ${RK1_FORMAT_PREFIX.length}) = ${p('rk1')} THEN SUBSTRING(${v}, 1, ${RK1_KEY_PREFIX_LENGTH}) ` +
    `WHEN ${isFernet} THEN '' END AS p, OCTET_LENGTH(${v}) AS len`;
  const byChunk = await options.table?.forEachChunk(grouped, async (chunk, params, after) => {
    if (deps.clock.now() > options.stopBy) {
      stopped = true;
      return { scanned: 0, end: undefined };
    }
    statements++;
    Object.assign(params, { rk1: bind(RK1_FORMAT_PREFIX), fernet: bind(FERNET_TEXT_PREFIX) });
    // Every row of the chunk is in a group (those in neither format in the NULL one), and the group
    // with the chunk's last id comes first: its MAX is where the chunk ended.
    const result = await retried(deps, () =>
      deps.db.execute(
        `SELECT s.p, COUNT(*), MAX(s.len), SUM(s.len), CAST(MAX(s.k) AS ${idText}) ` +
          `FROM (${chunk}) AS s GROUP BY s.p ORDER BY MAX(s.k) DESC`,
        params,
        { expectRows: true },
      ),
    );
    let scanned = 0;
    let fernetRows = 0;
    for (const row of result.rows) {
      const rows = Number(row[1]);
      scanned += rows;
      if (row[0] === null || row[0] === undefined) continue;
      const prefix = text(row[0]);
      if (prefix !== '') {
        rk1.set(prefix, (rk1.get(prefix) ?? 0) + rows);
        continue;
      }
      fernetRows += rows;
      fernet.maxBytes = Math.max(fernet.maxBytes, Number(row[2]));
      fernet.sumBytes += Number(row[3]);
    }
    fernet.rows += fernetRows;
    const end = result.rows[0]?.[4];
    if (fernetRows > 0) {
      const upTo = end === null || end === undefined ? undefined : text(end);
      fernetRanges.push({ ...(after !== undefined && { after }), ...(upTo !== undefined && { upTo }) });
    }
    return { scanned, end };
  });
  if (byChunk) {
    const sizes =
      fernet.rows > 0
        ? { rows: fernet.rows, maxBytes: fernet.maxBytes, avgBytes: fernet.sumBytes / fernet.rows }
        : undefined;
    return { rk1, fernet: sizes, statements, stopped, fernetRanges };
  }
  const groups = await retried(deps, () =>
    deps.db.execute(
      `SELECT CASE WHEN SUBSTRING(${v}, 1, ${RK1_FORMAT_PREFIX.length}) = ${p('rk1a')} THEN SUBSTRING(${v}, 1, ${RK1_KEY_PREFIX_LENGTH}) ELSE '' END AS p, ` +
        `COUNT(*), MAX(OCTET_LENGTH(${v})), AVG(OCTET_LENGTH(${v})) FROM ${from} ` +
        `WHERE SUBSTRING(${v}, 1, ${RK1_FORMAT_PREFIX.length}) = ${p('rk1b')} OR ${isFernet} GROUP BY 1`,
      { rk1a: bind(RK1_FORMAT_PREFIX), rk1b: bind(RK1_FORMAT_PREFIX), fernet: bind(FERNET_TEXT_PREFIX) },
      { expectRows: true },
    ),
  );
  let sizes: FormatCounts['fernet'];
  for (const row of groups.rows) {
    const prefix = row[0] === null || row[0] === undefined ? '' : text(row[0]);
    const rows = Number(row[1]);
    if (prefix === '') sizes = { rows, maxBytes: Number(row[2]), avgBytes: Number(row[3]) };
    else rk1.set(prefix, rows);
  }
  return { rk1, fernet: sizes, statements: 1, stopped: false };
}

/**
 * The Fernet sample: the `limit` values first in MD5 order. Where the column was counted in chunks, the
 * first `limit` of each chunk holding Fernet values, merged: the same values as one statement over
 * the whole column would give, which on MySQL read and sorted every one of them. The deadline is
 * checked between chunks; stopped by it, the sample is of the chunks read.
 */
async function sampleInRanges(
  statement: (ids: string, params: Record<string, SqlValue>) => Promise<SqlResult>,
  ranges: readonly IdRange[] | undefined,
  options: { readonly table: TableSql | undefined; readonly stopBy: number },
  limit: number,
  clock: PassDeps['clock'],
): Promise<{ values: SqlValue[]; statements: number; stopped: boolean }> {
  if (ranges === undefined || options.table === undefined) {
    const sample = await statement('', {});
    return { values: sample.rows.map((r) => r[0] ?? null), statements: 1, stopped: false };
  }
  const rows: { value: SqlValue; hash: string }[] = [];
  let statements = 0;
  let stopped = false;
  for (const range of ranges) {
    stopped = clock.now() > options.stopBy;
    if (stopped) break;
    const params: Record<string, SqlValue> = {};
    const ids = options.table.idsBetween(range, params);
    statements++;
    for (const r of (await statement(ids, params)).rows)
      rows.push({ value: r[0] ?? null, hash: text(r[1] ?? '') });
  }
  rows.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
  return { values: rows.slice(0, limit).map((r) => r.value), statements, stopped };
}

/**
 * A table of the census as TableSql sees it, paged by its one-column primary key, with the census's
 * columns of it; `undefined` when the key is not one the passes can page by (TableSql refuses it).
 */
async function openByKey(
  c: CatalogColumn,
  primaryKey: string,
  columns: readonly CatalogColumn[],
  deps: PassDeps,
  chunkRows: number | undefined,
): Promise<TableSql | undefined> {
  const stored: StoredTable = {
    table: c.table,
    ...(deps.db.dialect === 'postgres' ? { schema: c.schema } : {}),
    id: primaryKey,
    columns: columns.map((o) => o.column).filter((name) => name !== primaryKey),
  };
  try {
    return await retried(deps, () =>
      TableSql.open(deps.db, stored, chunkRows === undefined ? {} : { chunkRows }),
    );
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

/**
 * `--full` on a table with a one-column primary key: every value of the column, in keyset pages by that
 * key, as the passes read (TableSql and scanColumn: linear, with the pass's page sizing). `false` when a
 * value is too large to read: then the caller pages by value instead.
 */
async function readById(
  c: CatalogColumn,
  table: TableSql,
  deps: PassDeps,
  onValue: (value: string | Uint8Array) => void,
): Promise<boolean> {
  const stats = await retried(deps, () => table.stats(c.column));
  if (stats.maxBytes > READABLE_BYTES) return false;
  const progress = { done: 0, total: stats.rows };
  // The census reads columns nobody configured: their pages are not the pass's progress.
  await scanColumn(
    { ...deps, progress: undefined },
    table,
    c.column,
    { avgBytes: stats.avgBytes, skipPrefix: undefined, progress, columnRows: stats.rows },
    async (rows) => {
      for (const row of rows) onValue(row.value);
      return { census: rows.length };
    },
  );
  return true;
}

/** The staged values, labelled, in the order whose first label wins (current, pending, previous). */
function stagedValues(
  staged: KeyVersions | readonly StagedValue[],
): { label: KeyLabel; versionId: string | undefined; secretString: string }[] {
  if (isStagedList(staged)) return staged.map((s) => ({ ...s }));
  const [current, previous] = staged.sources;
  const out: { label: KeyLabel; versionId: string | undefined; secretString: string }[] = [];
  if (current !== undefined) out.push({ label: 'current', versionId: undefined, secretString: current });
  out.push({ label: 'pending', versionId: undefined, secretString: staged.target });
  if (previous !== undefined) out.push({ label: 'previous', versionId: undefined, secretString: previous });
  return out;
}

function isStagedList(staged: KeyVersions | readonly StagedValue[]): staged is readonly StagedValue[] {
  return Array.isArray(staged);
}

/**
 * Every key a staged version's value can hold: each `aes-256` field as rk1, each `fernet` field as
 * Fernet, and each field as fernet-sha256 (any string is a secret sqlalchemy-utils derives a key from).
 * A field a codec cannot use is left out.
 */
function candidateKeys(
  config: RekeyConfig,
  staged: readonly { label: KeyLabel; versionId: string | undefined; secretString: string }[],
): CandidateKey[] {
  const out: CandidateKey[] = [];
  const codecsOf = (kind: string): CodecName[] =>
    kind === 'aes-256'
      ? ['rk1', 'fernet-sha256']
      : kind === 'fernet'
        ? ['fernet', 'fernet-sha256']
        : ['fernet-sha256'];
  for (const s of staged) {
    for (const [field, spec] of Object.entries(config.secretTemplate)) {
      for (const codec of codecsOf(spec.kind)) {
        try {
          const key = dataKeyFromSecretString(s.secretString, field, codec);
          out.push({ label: s.label, versionId: s.versionId, field, codec, key });
        } catch (error) {
          // A field this codec cannot use (the steps have checked each value against the template).
          if (!(error instanceof SecretFormatError)) throw error;
        }
      }
    }
  }
  // The configured tables' own codecs first, so a key shared by two derivations is reported as the one in use.
  const used = new Set(
    config.storedFields.map((t) => `${tableCodec(config, t).codec} ${tableCodec(config, t).dataKeyField}`),
  );
  return [
    ...out.filter((k) => used.has(`${k.codec} ${k.field}`)),
    ...out.filter((k) => !used.has(`${k.codec} ${k.field}`)),
  ];
}

function isConfigured(
  config: RekeyConfig,
  engine: Engine,
  schema: string,
  table: string,
  column: string,
): boolean {
  return config.storedFields.some(
    (t) =>
      dialectOf(engine).sameTable(t.schema, t.table, schema, table) &&
      (t.id === column || t.columns.includes(column)),
  );
}

function isIgnored(
  config: RekeyConfig,
  engine: Engine,
  schema: string,
  table: string,
  column: string,
): boolean {
  return (config.ignoredColumns ?? []).some(
    (i) => dialectOf(engine).sameTable(i.schema, i.table, schema, table) && i.column === column,
  );
}

function plain(c: CatalogColumn): boolean {
  return [c.schema, c.table, c.column].every((name) => IDENTIFIER_PATTERN.test(name));
}

/** A catalog or result value as text (bytes as Latin-1, which keeps every byte). */
function text(value: SqlValue): string {
  if (typeof value === 'string' || value instanceof Uint8Array) return asText(value);
  return String(value);
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const line = message.replace(/\s+/g, ' ').trim();
  return line.length > REASON_CHARS ? `${line.slice(0, REASON_CHARS)}...` : line;
}

/** The runner, counting the statements sent and the rows they return (what a census or a plan cost). */
export function countingRunner(db: SqlRunner, cost: { statements: number; rowsRead: number }): SqlRunner {
  return {
    dialect: db.dialect,
    async execute(sql, params, options): Promise<SqlResult> {
      cost.statements++;
      const result = await db.execute(sql, params, options);
      cost.rowsRead += result.rows.length;
      return result;
    },
    begin: () => db.begin(),
    commit: (tx) => db.commit(tx),
    rollback: (tx) => db.rollback(tx),
  };
}
