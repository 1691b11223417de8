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
import { ConfigError, RekeyError, SecretFormatError, StatementTooSlowError } from '../errors.js';
import type { SqlResult, SqlRunner, SqlValue } from '../ports.js';
import { DEFAULT_RETRY } from '../retry.js';
import { asText, TableSql } from '../sql.js';
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
  /** Statements sent, rows they returned, and the time it took. */
  readonly cost: { readonly statements: number; readonly rowsRead: number; readonly durationMs: number };
}

/** Options of a census. */
export interface DatabaseCensusOptions {
  /** Fernet values read per column to tell their key (HMAC); default 200. */
  readonly sampleRows?: number;
  /** Read every Fernet value (exact counts) instead of a sample. */
  readonly full?: boolean;
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
 * not list (nor its tables' id columns) and does not ignore. rk1 values are counted by key id in SQL
 * (`SUBSTRING(col, 1, 13) ... GROUP BY`: exact, one aggregate per column); Fernet values are found by
 * format (`gAAAAA`) in the same aggregate, and a sample of them (`sampleRows`, in a stable pseudo-random
 * order, `ORDER BY MD5(col)`) is matched against every staged key's HMAC; `full` reads them all instead.
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
  const primaryKeys = new Map<string, string>();
  if (options.full) {
    const keys = await retried(deps, () => db.execute(dialect.primaryKeys, {}, { expectRows: true }));
    for (const [schema, table, column] of keys.rows)
      if (schema && table && column) primaryKeys.set(`${text(schema)}.${text(table)}`, text(column));
  }
  const stopBy = deps.deadline - deps.config.safetyMarginMs;
  // One timeout leaves a column unchecked: its statements read (no row lock makes them wait), so one
  // past the Data API's 45 s would be past it again, and three tries of every such column of a large
  // database would spend the invocation testSecret needs for its own reads.
  const censusRetry = { ...(deps.retry ?? DEFAULT_RETRY), timeoutAttempts: 1 };
  const outcomes: ColumnOutcome[] = [];
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
        primaryKey: primaryKeys.get(`${c.schema}.${c.table}`),
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
  // Columns are checked side by side (the pacer bounds the statements), each outcome in its catalog
  // place, so a database of many small tables costs a few round trips rather than one per column.
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < columns.length) {
      const index = next++;
      try {
        outcomes[index] = await checkOne(columns[index] as CatalogColumn);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Math.max(1, Math.min(columns.length, deps.config.pacing.maxConcurrentStatements));
  const settled = await Promise.allSettled(Array.from({ length: workers }, worker));
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  const found = outcomes.flatMap((o) => o.checked?.found ?? []);
  const unchecked = outcomes.flatMap((o) => o.unchecked);
  const checked = outcomes.filter((o) => o.checked).length;
  const fernetColumns = outcomes.filter((o) => o.checked?.fernet).length;
  return {
    found,
    checked,
    fernetColumns,
    skipped,
    unchecked,
    full: options.full === true,
    sampleRows,
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
  readonly checked?: { readonly found: readonly FoundCiphertext[]; readonly fernet: boolean };
  readonly unchecked: readonly UncheckedColumn[];
}

/** What one column holds, and whether part of it could not be read. */
async function checkColumn(
  c: CatalogColumn,
  keys: readonly CandidateKey[],
  deps: PassDeps,
  dialect: CensusDialect,
  options: { readonly sampleRows: number; readonly full: boolean; readonly primaryKey?: string },
): Promise<{ found: FoundCiphertext[]; fernet: boolean; partial?: string }> {
  const { quote } = dialectOf(deps.db.dialect);
  const from = `${quote(c.schema)}.${quote(c.table)}`;
  const v = dialect.value(quote(c.column));
  const p = (name: string) => dialect.param(name, c.binary);
  const bind = (value: string) => dialect.bind(value, c.binary);
  const isFernet = `SUBSTRING(${v}, 1, ${FERNET_TEXT_PREFIX.length}) = ${p('fernet')}`;
  // One aggregate: rk1 values by key prefix, Fernet-shaped values as one group (''), with their sizes.
  const groups = await retried(deps, () =>
    deps.db.execute(
      `SELECT CASE WHEN SUBSTRING(${v}, 1, ${RK1_FORMAT_PREFIX.length}) = ${p('rk1a')} THEN SUBSTRING(${v}, 1, ${RK1_KEY_PREFIX_LENGTH}) ELSE '' END AS p, ` +
        `COUNT(*), MAX(OCTET_LENGTH(${v})), AVG(OCTET_LENGTH(${v})) FROM ${from} ` +
        `WHERE SUBSTRING(${v}, 1, ${RK1_FORMAT_PREFIX.length}) = ${p('rk1b')} OR ${isFernet} GROUP BY 1`,
      { rk1a: bind(RK1_FORMAT_PREFIX), rk1b: bind(RK1_FORMAT_PREFIX), fernet: bind(FERNET_TEXT_PREFIX) },
      { expectRows: true },
    ),
  );
  const where = { schema: c.schema, table: c.table, column: c.column };
  const found: FoundCiphertext[] = [];
  const rk1Keys = new Map<string, CandidateKey>();
  for (const k of keys) {
    const prefix = k.codec === 'rk1' ? codecFor('rk1').sqlPrefix(k.key) : undefined;
    if (prefix !== undefined && !rk1Keys.has(prefix)) rk1Keys.set(prefix, k);
  }
  let fernet: { rows: number; maxBytes: number; avgBytes: number } | undefined;
  for (const row of groups.rows) {
    const prefix = row[0] === null || row[0] === undefined ? '' : text(row[0]);
    const rows = Number(row[1]);
    if (prefix === '') {
      fernet = { rows, maxBytes: Number(row[2]), avgBytes: Number(row[3]) };
      continue;
    }
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
  if (!fernet || fernet.rows === 0) return { found, fernet: false };
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
  const byId =
    options.full && options.primaryKey !== undefined
      ? await readById(c, options.primaryKey, deps, (value) => {
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
    const sample = await retried(deps, () =>
      deps.db.execute(
        `SELECT ${v} AS v FROM ${from} WHERE ${readable} ORDER BY MD5(${v}) LIMIT ${limit}`,
        { fernet: bind(FERNET_TEXT_PREFIX) },
        { expectRows: true },
      ),
    );
    for (const [value] of sample.rows) classify(value ?? null, 1);
    read = sample.rows.length;
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
    fernet.maxBytes > READABLE_BYTES
      ? `some values in Fernet format are larger than the Data API's 64 KB row limit and were not read`
      : undefined;
  return partial ? { found, fernet: true, partial } : { found, fernet: true };
}

/**
 * `--full` on a table with a one-column primary key: every value of the column, in keyset pages by that
 * key, as the passes read (TableSql and scanColumn: linear, with the pass's page sizing). `false` when
 * the key is not one the passes can page by (TableSql refuses it) or a value is too large to read: then
 * the caller pages by value instead.
 */
async function readById(
  c: CatalogColumn,
  primaryKey: string,
  deps: PassDeps,
  onValue: (value: string | Uint8Array) => void,
): Promise<boolean> {
  const stored: StoredTable = {
    table: c.table,
    ...(deps.db.dialect === 'postgres' ? { schema: c.schema } : {}),
    id: primaryKey,
    columns: [c.column],
  };
  let table: TableSql;
  try {
    table = await retried(deps, () => TableSql.open(deps.db, stored));
  } catch (error) {
    if (error instanceof ConfigError) return false;
    throw error;
  }
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
