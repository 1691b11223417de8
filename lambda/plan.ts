import { codecFor, dataKeyFromSecretString } from './codecs/index.js';
import {
  type CodecName,
  type RekeyConfig,
  type SecretField,
  type StoredTable,
  tableCodec,
} from './config.js';
import { ConfigError } from './errors.js';
import {
  type CensusTotal,
  type ColumnCensus,
  keyIdsOf,
  type StagedValue,
  takeCensus,
  totalOf,
} from './passes/census.js';
import {
  countingRunner,
  type DatabaseCensus,
  DEFAULT_CENSUS_SAMPLE_ROWS,
  describeFound,
  takeDatabaseCensus,
} from './passes/db-census.js';
import type { PassDeps } from './passes/pass-deps.js';
import { DATA_API_ROW_LIMIT } from './passes/reencrypt.js';
import { pageRowsFor, retried } from './passes/scan.js';
import { chooseStreams, type PassKind } from './passes/streams.js';
import { type ColumnStats, TableSql } from './sql.js';

/**
 * `rekey plan`'s computation: before a rotation, what it will touch (rows per column by key version),
 * what it will cost (Data API calls per step, time, Lambda invocations), what it invalidates (per
 * template field), and what would make it fail or lose data (warnings). Read-only: catalog lookups and
 * SELECTs, nothing written.
 */

/** The per-call latency the benchmark's headline figures use (README, "Performance"). */
export const DEFAULT_LATENCY_MS = 100;
/** The rotation function's timeout (docs/deploy.md: Lambda's maximum). */
export const LAMBDA_TIMEOUT_MS = 15 * 60_000;
/**
 * Work per row besides the Data API's round trips, from bench/results/latest.md at 0 ms latency
 * (1,000,000 rk1 rows on 2 vCPU, 2026-12-01): setSecret 25.0 s (0.025 ms per re-encrypted row),
 * testSecret 10.9 s (0.011 ms per row read and checked). A Lambda with less CPU takes longer.
 */
export const REENCRYPT_MS_PER_ROW = 0.025;
export const READ_MS_PER_ROW = 0.011;
/** Values above this are flagged: close to the Data API's 64 KB row limit. */
export const LARGE_VALUE_BYTES = 48 * 1024;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Options of a plan. */
export interface PlanOptions {
  /** Data API latency per call, ms; default 10. */
  readonly latencyMs?: number;
  /** Census: read every Fernet value of unlisted columns instead of a sample. */
  readonly full?: boolean;
  /** Census: Fernet values sampled per column; default 200. */
  readonly sampleRows?: number;
  /** The secret, for the report. */
  readonly secretId?: string;
  /** The secret's schedule as DescribeSecret's RotationRules gives it; none when rotation is not set up. */
  readonly rotationRules?: RotationRules;
}

/** DescribeSecret's RotationRules, the part the plan checks. */
export interface RotationRules {
  readonly automaticallyAfterDays?: number;
  readonly scheduleExpression?: string;
}

/** One configured column: its rows and sizes, and the pages each pass reads and writes. */
export interface ColumnPlan {
  readonly table: string;
  readonly column: string;
  readonly codec: CodecName;
  readonly binary: boolean;
  readonly avgBytes: number;
  readonly maxBytes: number;
  /** Rows per page the passes start with (lambda/scan.ts sizes pages from the average value). */
  readonly pageRows: number;
  readonly setSecret: {
    readonly rowsRead: number;
    readonly rowsRewritten: number;
    readonly reads: number;
    readonly writes: number;
  };
  readonly testSecret: {
    readonly catchUpRows: number;
    readonly catchUpReads: number;
    readonly verifyRows: number;
    readonly verifyReads: number;
  };
}

/** Data API calls of one step, by kind. */
export interface StepCalls {
  /** Catalog lookups (TableSql.open, once per table per pass). */
  readonly catalog: number;
  /** Aggregates: key-id counts, row counts before and after a pass. */
  readonly counts: number;
  /** Pages read. */
  readonly reads: number;
  /** Pages written (one compare-and-swap statement each). */
  readonly writes: number;
  /** The database census testSecret runs (sampled). */
  readonly census: number;
  readonly total: number;
}

/** One step's predicted calls, rows and time. */
export interface StepPlan {
  readonly calls: StepCalls;
  /** Rows the step reads. */
  readonly rows: number;
  /**
   * Calls × latency, rows × per-row work, and their sum; or, when `pacing.maxRowsPerSecond` holds the
   * step's paced rows (setSecret's, testSecret's catch-up) to longer than that, the time the rate takes.
   */
  readonly timeMs: { readonly calls: number; readonly work: number; readonly total: number };
}

/** What rotating one template field invalidates (docs/deploy.md, "What a rotation invalidates"). */
export interface FieldImpact {
  readonly field: string;
  readonly kind: SecretField['kind'];
  /** `data-key`: stored columns are encrypted with it; `token`: a signing secret; `unused-key`: a key no table uses. */
  readonly role: 'data-key' | 'token' | 'unused-key';
  /** For a data key: the tables (with their codec) encrypted with it. */
  readonly usedBy: readonly string[];
  readonly rekeyPart: string;
  readonly keepsWorking: string;
  readonly stopsWorking: string;
  readonly note?: string;
}

/** What kind of problem a warning is. */
export type PlanWarningKind =
  | 'no-current-value'
  | 'table-refused'
  | 'id-not-unique'
  | 'unknown-keys'
  | 'plaintext'
  | 'large-values'
  | 'too-large'
  | 'schedule-within-reader-bound'
  | 'test-secret-too-long'
  | 'several-invocations'
  | 'unlisted-ciphertext'
  | 'unknown-ciphertext-outside-config'
  | 'census-unchecked';

/** A warning; `blocks` when a rotation now would fail, or would leave values it cannot read later. */
export interface PlanWarning {
  readonly kind: PlanWarningKind;
  readonly blocks: boolean;
  readonly message: string;
  readonly table?: string;
  readonly column?: string;
}

/** The whole plan. Counts, key ids (public) and version ids; never a value or a key. */
export interface RotationPlan {
  readonly secretId: string | undefined;
  readonly keys: readonly {
    readonly label: string;
    readonly versionId: string;
    readonly keyIds: readonly string[];
  }[];
  readonly columns: readonly ColumnCensus[];
  readonly total: CensusTotal;
  readonly passes: readonly ColumnPlan[];
  readonly steps: {
    readonly setSecret: StepPlan;
    readonly testSecret: StepPlan;
    readonly finishSecret: StepPlan;
  };
  readonly model: {
    readonly latencyMs: number;
    readonly reencryptMsPerRow: number;
    readonly readMsPerRow: number;
    readonly paging: RekeyConfig['paging'];
  };
  readonly invocations: {
    /** Time one invocation may work: the Lambda timeout less `safetyMarginMs`. */
    readonly budgetMs: number;
    readonly setSecret: number;
    /** testSecret does not resume: it must fit one invocation (or run through `rekey resume`). */
    readonly testSecretFits: boolean;
  };
  readonly schedule: {
    readonly intervalMs: number | undefined;
    readonly expression: string | undefined;
    /** `readers.maxAgeMs + readers.marginMs`: rotations closer together are refused. */
    readonly readerBoundMs: number;
  };
  readonly invalidates: readonly FieldImpact[];
  readonly census: DatabaseCensus;
  readonly warnings: readonly PlanWarning[];
  /** Whether any warning blocks. */
  readonly blocked: boolean;
  /** What the plan itself cost. */
  readonly cost: { readonly statements: number; readonly rowsRead: number; readonly durationMs: number };
}

/**
 * Computes the plan. Reads the catalog, counts rows per column by staged key (takeCensus: aggregates for
 * rk1, every value for Fernet), the columns' sizes, and takes the database census; predicts each step's
 * Data API calls from the same page sizing the passes use. A table the rotation would refuse (a
 * ConfigError from TableSql.open, e.g. an id column that is not unique) becomes a warning, and the rest
 * is still planned. Read-only.
 * @param staged the staged values, as current, pending, previous (loadStagedValues).
 * @throws the database's errors; SecretFormatError when a staged value does not match the template.
 */
export async function planRotation(
  staged: readonly StagedValue[],
  deps: PassDeps,
  options: PlanOptions = {},
): Promise<RotationPlan> {
  const started = deps.clock.now();
  const cost = { statements: 0, rowsRead: 0 };
  const db = countingRunner(deps.db, cost);
  const { config } = deps;
  const scan = { ...deps, db };
  const warnings: PlanWarning[] = [];
  if (!staged.some((s) => s.label === 'current')) {
    warnings.push({
      kind: 'no-current-value',
      blocks: true,
      message:
        "no version staged AWSCURRENT has a value: write the first one with 'rekey init' before rotating",
    });
  }

  const opened: TableSql[] = [];
  for (const table of config.storedFields) {
    try {
      opened.push(await retried(deps, () => TableSql.open(db, table)));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      warnings.push(refusedTable(table, error));
    }
  }
  const columns = await takeCensus(staged, {
    ...scan,
    config: { ...config, storedFields: opened.map((t) => t.table) },
  });

  const pending = staged.find((s) => s.label === 'pending');
  const passes: ColumnPlan[] = [];
  for (const table of opened) {
    const { codec, dataKeyField } = tableCodec(config, table.table);
    const c = codecFor(codec);
    const skipPrefix = pending
      ? c.sqlPrefix(dataKeyFromSecretString(pending.secretString, dataKeyField, codec))
      : undefined;
    for (const column of table.table.columns) {
      const all = await retried(deps, () => table.stats(column));
      const move =
        skipPrefix === undefined ? all : await retried(deps, () => table.stats(column, skipPrefix));
      const counts = columns.find((x) => x.table === table.name && x.column === column);
      const pass = columnPlan(table, column, codec, all, move, counts, config);
      passes.push(pass);
      if (all.maxBytes > LARGE_VALUE_BYTES) warnings.push(await largeValues(table, column, all, deps));
      if (counts) warnings.push(...rowWarnings(counts, config));
    }
  }

  const census = await takeDatabaseCensus(staged, scan, {
    full: options.full,
    sampleRows: options.sampleRows ?? DEFAULT_CENSUS_SAMPLE_ROWS,
  });
  const latencyMs = options.latencyMs ?? DEFAULT_LATENCY_MS;
  const steps = stepPlans(
    opened,
    passes,
    census,
    latencyMs,
    {
      write: chooseStreams(latencyMs, config, 'write'),
      read: chooseStreams(latencyMs, config, 'read'),
    },
    config.pacing.maxRowsPerSecond,
  );
  const budgetMs = LAMBDA_TIMEOUT_MS - config.safetyMarginMs;
  const invocations = {
    budgetMs,
    setSecret: Math.max(1, Math.ceil(steps.setSecret.timeMs.total / budgetMs)),
    testSecretFits: steps.testSecret.timeMs.total <= budgetMs,
  };
  const schedule = {
    intervalMs: rotationIntervalMs(options.rotationRules),
    expression: scheduleText(options.rotationRules),
    readerBoundMs: config.readers.maxAgeMs + config.readers.marginMs,
  };
  warnings.push(
    ...timeWarnings(invocations, steps),
    ...scheduleWarnings(schedule),
    ...censusWarnings(census),
  );

  const total = totalOf(columns);
  return {
    secretId: options.secretId,
    keys: staged.map((s) => ({
      label: s.label,
      versionId: s.versionId,
      keyIds: keyIdsOf(config, s.secretString),
    })),
    columns,
    total,
    passes,
    steps,
    model: {
      latencyMs,
      reencryptMsPerRow: REENCRYPT_MS_PER_ROW,
      readMsPerRow: READ_MS_PER_ROW,
      paging: config.paging,
    },
    invocations,
    schedule,
    invalidates: fieldImpacts(config),
    census,
    warnings,
    blocked: warnings.some((w) => w.blocks),
    cost: { ...cost, durationMs: deps.clock.now() - started },
  };
}

/**
 * The pages one pass reads over `rows` rows at `pageRows` a page: scanColumn reads until a page comes
 * back short, so a column whose rows fill whole pages costs one more (empty) read.
 */
export function pagesRead(rows: number, pageRows: number): number {
  return Math.floor(rows / pageRows) + 1;
}

function columnPlan(
  table: TableSql,
  column: string,
  codec: CodecName,
  all: ColumnStats,
  move: ColumnStats,
  counts: ColumnCensus | undefined,
  config: RekeyConfig,
): ColumnPlan {
  const binary = table.isBinary(column);
  const prefixed = codecFor(codec).formatPrefix !== undefined;
  // rk1 skips rows already under the pending key in SQL; Fernet reads every row to tell its key.
  const toRead = prefixed ? move : all;
  const pageRows = pageRowsFor(toRead.avgBytes, binary, config);
  const rewritable = counts ? counts.current + counts.previous : toRead.rows;
  const nonEmptyPages = Math.ceil(toRead.rows / pageRows);
  // A page is written when it holds a row to move; rows a Fernet pass already moved are the first ids.
  const writes =
    rewritable === 0
      ? 0
      : prefixed || rewritable >= toRead.rows
        ? nonEmptyPages
        : Math.min(nonEmptyPages, Math.ceil(rewritable / pageRows) + 1);
  const verifyPageRows = pageRowsFor(all.avgBytes, binary, config);
  return {
    table: table.name,
    column,
    codec,
    binary,
    avgBytes: Math.round(all.avgBytes),
    maxBytes: all.maxBytes,
    pageRows,
    setSecret: {
      rowsRead: toRead.rows,
      rowsRewritten: rewritable,
      reads: pagesRead(toRead.rows, pageRows),
      writes,
    },
    testSecret: {
      // The catch-up pass: nothing left for rk1 (one empty read); every row again for Fernet.
      catchUpRows: prefixed ? 0 : all.rows,
      catchUpReads: prefixed ? 1 : pagesRead(all.rows, verifyPageRows),
      verifyRows: all.rows,
      verifyReads: pagesRead(all.rows, verifyPageRows),
    },
  };
}

/**
 * The steps' calls, as lambda/steps.ts runs them: each step looks every table up once; setSecret checks
 * key ids (an aggregate per rk1 column) then re-encrypts (a count per column, pages); testSecret checks
 * key ids, catches up (nothing to read when every column is rk1 and the key-id count found every row
 * under the pending key; else a count per column and its pages), then verifies (counts before and
 * after, where the first pages end when it runs several streams, pages); finishSecret checks key ids once more. createSecret runs no SQL. Retries, the key
 * ranges' boundary lookups and rows the app changes meanwhile add calls.
 */
function stepPlans(
  opened: readonly TableSql[],
  passes: readonly ColumnPlan[],
  census: DatabaseCensus,
  latencyMs: number,
  /** The streams each kind of pass runs at that latency: their round trips overlap. */
  streams: Readonly<Record<PassKind, number>>,
  maxRowsPerSecond: number | undefined,
): RotationPlan['steps'] {
  const tables = opened.length;
  const cols = passes.length;
  const sum = (pick: (p: ColumnPlan) => number) => passes.reduce((s, p) => s + pick(p), 0);
  // An aggregate over a column is one statement, or on MySQL one a chunk of the table (lambda/sql.ts);
  // the column's rows with a value stand in for the table's.
  const byName = new Map(opened.map((t) => [t.name, t]));
  const scans = (p: ColumnPlan) => byName.get(p.table)?.statementsPerScan(p.testSecret.verifyRows) ?? 1;
  const isPrefixed = (p: ColumnPlan) => codecFor(p.codec).formatPrefix !== undefined;
  const prefixed = sum((p) => (isPrefixed(p) ? scans(p) : 0));
  const counted = sum(scans);
  const step = (
    pass: PassKind,
    calls: Omit<StepCalls, 'total'>,
    rows: number,
    workMs: number,
    pacedRows: number,
  ): StepPlan => {
    const total = calls.catalog + calls.counts + calls.reads + calls.writes + calls.census;
    const callMs = Math.round((total * latencyMs) / streams[pass]);
    const rateMs = maxRowsPerSecond === undefined ? 0 : (pacedRows / maxRowsPerSecond) * 1000;
    return {
      calls: { ...calls, total },
      rows,
      timeMs: {
        calls: callMs,
        work: Math.round(workMs),
        total: Math.round(Math.max(callMs + workMs, rateMs)),
      },
    };
  };
  const rewritten = sum((p) => p.setSecret.rowsRewritten);
  const setRead = sum((p) => p.setSecret.rowsRead);
  const testRead = sum((p) => p.testSecret.catchUpRows + p.testSecret.verifyRows);
  const catchUpSkipped = passes.every(isPrefixed);
  // The census testSecret runs is the sampled one: the catalog, the lookups its chunks need (MySQL),
  // an aggregate per column (or a chunk), a sample per Fernet column (or a chunk holding Fernet values).
  const censusCalls = 1 + census.lookups + census.aggregates + census.samples;
  return {
    setSecret: step(
      'write',
      {
        catalog: tables,
        counts: prefixed + counted,
        reads: sum((p) => p.setSecret.reads),
        writes: sum((p) => p.setSecret.writes),
        census: 0,
      },
      setRead,
      rewritten * REENCRYPT_MS_PER_ROW + (setRead - rewritten) * READ_MS_PER_ROW,
      setRead,
    ),
    testSecret: step(
      'read',
      {
        catalog: tables,
        // With more than one stream, the full read asks where each column's first pages end beside its count.
        counts: prefixed + 2 * counted + (catchUpSkipped ? 0 : counted) + (streams.read > 1 ? cols : 0),
        reads: sum((p) => (catchUpSkipped ? 0 : p.testSecret.catchUpReads) + p.testSecret.verifyReads),
        writes: 0,
        census: censusCalls,
      },
      testRead,
      testRead * READ_MS_PER_ROW,
      // The full read is held to the statements in flight only (lambda/passes/verify.ts).
      catchUpSkipped ? 0 : sum((p) => p.testSecret.catchUpRows),
    ),
    finishSecret: step(
      'read',
      { catalog: tables, counts: prefixed, reads: 0, writes: 0, census: 0 },
      0,
      0,
      0,
    ),
  };
}

function refusedTable(table: StoredTable, error: ConfigError): PlanWarning {
  const name = table.schema ? `${table.schema}.${table.table}` : table.table;
  const notUnique = /is not unique/.test(error.message);
  return {
    kind: notUnique ? 'id-not-unique' : 'table-refused',
    blocks: true,
    table: name,
    ...(notUnique ? { column: table.id } : {}),
    message: `${name}: the rotation refuses this table (${error.message}); it is left out of the figures below`,
  };
}

async function largeValues(
  table: TableSql,
  column: string,
  stats: ColumnStats,
  deps: PassDeps,
): Promise<PlanWarning> {
  const ids = await retried(deps, () => table.idsLargerThan(column, LARGE_VALUE_BYTES));
  const tooLarge = stats.maxBytes > DATA_API_ROW_LIMIT;
  return {
    kind: tooLarge ? 'too-large' : 'large-values',
    blocks: tooLarge,
    table: table.name,
    column,
    message: tooLarge
      ? `${table.name}.${column}: values up to ${stats.maxBytes} bytes (rows ${ids.join(', ')}): over the Data API's 64 KB row limit, setSecret stops with RowTooLargeError`
      : `${table.name}.${column}: values up to ${stats.maxBytes} bytes (rows ${ids.join(', ')}), close to the Data API's 64 KB row limit; a value that grows past it stops the rotation`,
  };
}

function rowWarnings(c: ColumnCensus, config: RekeyConfig): PlanWarning[] {
  const where = `${c.table}.${c.column}`;
  const out: PlanWarning[] = [];
  if (c.unknown > 0) {
    const prefixed = codecFor(c.codec).formatPrefix !== undefined;
    const keys = Object.entries(c.unknownKeys)
      .map(([k, n]) => `${n} under key id '${k}'`)
      .join(', ');
    out.push({
      kind: 'unknown-keys',
      blocks: prefixed || config.policies.undecryptable === 'fail',
      table: c.table,
      column: c.column,
      message: prefixed
        ? `${where}: ${c.unknown} rows under keys no staged version holds (${keys}): the rotation refuses to start (StrandedRowsError; docs/operations.md, "Rows under an unstaged key")`
        : `${where}: ${c.unknown} values no staged key verifies: testSecret ${config.policies.undecryptable === 'fail' ? 'fails on them' : 'skips them'} (policies.undecryptable)`,
    });
  }
  if (c.plaintext > 0) {
    out.push({
      kind: 'plaintext',
      blocks: config.policies.plaintext === 'fail',
      table: c.table,
      column: c.column,
      message: `${where}: ${c.plaintext} values not in the ${c.codec} format: testSecret ${config.policies.plaintext === 'fail' ? 'fails on them' : 'skips them'} (policies.plaintext)`,
    });
  }
  return out;
}

function timeWarnings(invocations: RotationPlan['invocations'], steps: RotationPlan['steps']): PlanWarning[] {
  const out: PlanWarning[] = [];
  const minutes = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;
  if (!invocations.testSecretFits) {
    out.push({
      kind: 'test-secret-too-long',
      blocks: true,
      message: `testSecret needs about ${minutes(steps.testSecret.timeMs.total)}, more than one invocation's ${minutes(invocations.budgetMs)}, and starts over on each retry: run the rotation with 'rekey resume' (no time limit)`,
    });
  }
  if (invocations.setSecret > 1) {
    out.push({
      kind: 'several-invocations',
      blocks: false,
      message: `setSecret needs about ${minutes(steps.setSecret.timeMs.total)}: ${invocations.setSecret} invocations, each resuming where the last stopped`,
    });
  }
  return out;
}

function scheduleWarnings(schedule: RotationPlan['schedule']): PlanWarning[] {
  if (schedule.intervalMs === undefined || schedule.intervalMs >= schedule.readerBoundMs) return [];
  return [
    {
      kind: 'schedule-within-reader-bound',
      blocks: true,
      message: `the schedule (${schedule.expression}) rotates every ${span(schedule.intervalMs)}, sooner than the reader bound readers.maxAgeMs + readers.marginMs (${span(schedule.readerBoundMs)}): createSecret refuses a rotation that would unstage a key readers may still use, so scheduled rotations fail. Rotate less often, or lower readers.maxAgeMs if every reader refreshes sooner`,
    },
  ];
}

function censusWarnings(census: DatabaseCensus): PlanWarning[] {
  const out: PlanWarning[] = [];
  for (const f of census.found) {
    const staged = f.label !== 'unknown';
    out.push({
      kind: staged ? 'unlisted-ciphertext' : 'unknown-ciphertext-outside-config',
      blocks: staged,
      table: `${f.schema}.${f.table}`,
      column: f.column,
      message: staged
        ? `${describeFound(f)}: not in storedFields, so a rotation leaves it under the old key, readable for one more rotation. Add it to storedFields, or to ignoredColumns with a reason`
        : `${describeFound(f)}: in a ciphertext format outside the configuration, under no staged key (another secret's, or one unstaged already)`,
    });
  }
  if (census.unchecked.length > 0) {
    out.push({
      kind: 'census-unchecked',
      blocks: false,
      message: `the census could not check ${census.unchecked.length} columns: ${census.unchecked
        .slice(0, 5)
        .map((u) => `${u.schema}.${u.table}.${u.column} (${u.reason})`)
        .join('; ')}${census.unchecked.length > 5 ? '; ...' : ''}`,
    });
  }
  return out;
}

/** A duration in whole hours when it is one, else in minutes. */
function span(ms: number): string {
  return ms % HOUR_MS === 0 ? `${ms / HOUR_MS} h` : `${Math.round(ms / 60_000)} min`;
}

/**
 * The interval of a schedule: `AutomaticallyAfterDays`, or `rate(N hours|days)`. A `cron()` schedule's
 * shortest interval is not computed (the service keeps its hours at least 4 apart).
 */
export function rotationIntervalMs(rules: RotationRules | undefined): number | undefined {
  if (!rules) return undefined;
  if (rules.scheduleExpression) {
    const m = /^rate\(\s*(\d+)\s+(hours?|days?)\s*\)$/.exec(rules.scheduleExpression.trim());
    if (!m) return undefined;
    return Number(m[1]) * (m[2]?.startsWith('hour') ? HOUR_MS : DAY_MS);
  }
  return rules.automaticallyAfterDays ? rules.automaticallyAfterDays * DAY_MS : undefined;
}

function scheduleText(rules: RotationRules | undefined): string | undefined {
  if (!rules) return undefined;
  if (rules.scheduleExpression) return rules.scheduleExpression;
  return rules.automaticallyAfterDays ? `every ${rules.automaticallyAfterDays} days` : undefined;
}

/**
 * docs/deploy.md's table "What a rotation invalidates, per secret field kind", as data: one entry per
 * role a field can have.
 */
export const FIELD_IMPACTS = {
  dataKey: {
    rekeyPart:
      're-encrypts every configured column from the current and previous keys to the new key, verifies every value, only then promotes',
    keepsWorking:
      'every stored value in the configured columns; apps that read through the key ring (current, pending and previous keys; refresh on an unknown key id); values an app with a stale ring writes under the old key (readable as AWSPREVIOUS, moved by the sweep)',
    stopsWorking:
      'readers that hold only one key and never refresh, once rows move; ciphertext outside the configured columns (other tables, backups, exports, caches, messages), which is not re-encrypted: readable while its version is staged (one more rotation, as AWSPREVIOUS) and afterwards only by fetching that version by id, while it exists',
  },
  dataKeyOtherUse:
    "if the app also uses this value for something else (Redash's REDASH_SECRET_KEY also signs cookies), whatever that signed or derived stops working as a token field's does",
  token: {
    rekeyPart: 'generates a new value; nothing to re-encrypt',
    keepsWorking:
      'sessions and signatures made with the old value, in apps that verify with AWSPREVIOUS as a fallback, until the next rotation',
    stopsWorking:
      'with no fallback: every session or signature made before the promotion, at once; with the fallback: those older than one rotation period',
  },
  unusedKey: {
    rekeyPart: 'generates a new value; does not re-encrypt',
    keepsWorking: 'data written after the promotion',
    stopsWorking:
      'data the app encrypted with the old value becomes unreadable once that version is no longer staged: list it in storedFields or keep it out of the template',
  },
  outsideTemplate: 'fields outside the template are carried over unchanged: nothing stops working',
} as const;

/** Per template field, what a rotation invalidates, from its kind and whether a table is encrypted with it. */
export function fieldImpacts(config: RekeyConfig): FieldImpact[] {
  return Object.entries(config.secretTemplate).map(([field, spec]) => {
    const usedBy = config.storedFields
      .filter((t) => tableCodec(config, t).dataKeyField === field)
      .map((t) => `${t.schema ? `${t.schema}.` : ''}${t.table} (${tableCodec(config, t).codec})`);
    if (usedBy.length > 0) {
      return {
        field,
        kind: spec.kind,
        role: 'data-key' as const,
        usedBy,
        ...FIELD_IMPACTS.dataKey,
        ...(spec.kind === 'token' ? { note: FIELD_IMPACTS.dataKeyOtherUse } : {}),
      };
    }
    if (spec.kind === 'token')
      return { field, kind: spec.kind, role: 'token' as const, usedBy, ...FIELD_IMPACTS.token };
    return { field, kind: spec.kind, role: 'unused-key' as const, usedBy, ...FIELD_IMPACTS.unusedKey };
  });
}
