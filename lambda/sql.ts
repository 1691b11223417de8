import type { StoredTable } from './config.js';
import { BINARY_TYPES, type Dialect, dialectOf, type IdCast } from './dialects.js';
import { ConfigError, UnexpectedAnswerError } from './errors.js';
import type { SqlRunner, SqlValue } from './ports.js';

/**
 * Every statement rekey runs, built in one place. Identifiers come only from validated config and are
 * quoted per dialect; values always travel as named parameters; the literals spliced in are page sizes
 * and range steps that rekey computes itself.
 */

/** What an id column may be (README.md, Configuration): integers, decimals, text and uuids, never bytes. */
const ID_TYPES_TEXT = 'an integer, numeric/decimal, char, varchar, text or uuid column';

/**
 * An id as text, exactly as stored (digits of a BIGINT, a uuid, a CHAR(n) without its padding): ids are
 * always selected as text and bound back with a cast to the column's type, so none travels as a JS
 * number (which would lose digits above 2^53).
 */
export type RowId = string;

/** Ids after `after` (exclusive) and up to `upTo` (inclusive), each end unbounded where absent. */
export interface IdRange {
  readonly after?: RowId;
  readonly upTo?: RowId;
}

/** One row of a page: its id and the stored value (text, or bytes for a binary column). */
export interface StoredRow {
  readonly id: RowId;
  readonly value: string | Uint8Array;
}

/** A compare-and-swap write: set `next` only where the column still holds `old`. */
export interface CasWrite {
  readonly id: RowId;
  readonly old: string | Uint8Array;
  readonly next: string;
}

/** Counts and sizes of the rows of one column that a pass would read. */
export interface ColumnStats {
  readonly rows: number;
  readonly maxBytes: number;
  readonly avgBytes: number;
}

/**
 * Rows of the table one statement over a whole column reads at most, on engines that read a column
 * from start to end for an aggregate (`Dialect.scansInChunks`: MySQL). On a 2-vCPU MariaDB 10.11 with
 * its default 128 MB buffer pool, 10M rows of 188-byte values read from disk (`npx tsx
 * bench/whole-column-cost.ts`): as one statement the count and sizes took 28.6 s, the count by key
 * prefix 32.9 s and the search for large values 25.6 s (past the Data API's 45 s at about 15M rows);
 * in chunks of 250k, at most 0.84-1.01 s a statement and 28.5-34.6 s in all. Chunks of 1M took up to
 * 5.4 s and 50 s in all for the prefix count, whose chunk outgrew MariaDB's in-memory temporary table.
 */
export const SCAN_CHUNK_ROWS = 250_000;

/** How `TableSql.open` builds the statements; tests ask for small chunks. */
export interface TableSqlOptions {
  /**
   * Statements over a whole column (counts, sizes, the census's counts by prefix, the rows too large
   * for the Data API) read at most this many rows of the table each, one chunk of the id index after
   * another; `Infinity`: one statement. @default SCAN_CHUNK_ROWS on MySQL; one statement on PostgreSQL,
   * whose parallel scan read those 10M rows in 0.6-5 s where chunks took 1.5 s a million.
   */
  readonly chunkRows?: number;
  /**
   * Key-range boundaries of a column of more rows than this come from a sample of the table's pages
   * where the engine can take one (`Dialect.samplesPages`: PostgreSQL), not from numbering every row.
   * @default SAMPLED_BOUNDARIES_ABOVE_ROWS
   */
  readonly sampleAboveRows?: number;
}

/**
 * Above this many rows PostgreSQL's key-range boundaries are quantiles of a sample of the table's
 * pages (TABLESAMPLE SYSTEM) instead of every n-th row of a window over the whole column: that window
 * took 9.5-11.2 s at 10M rows on a 2-vCPU VM (3.7-4.1 s with the table cached), and so would pass the
 * Data API's 45 s a statement at about 40M, where every setSecret would then fail before its first
 * page; the sample took 27-36 ms there, its quartiles within 3% of the exact ones. Boundaries only
 * balance the streams: the ranges are open at both ends and cover every row whatever ids cut them.
 */
export const SAMPLED_BOUNDARIES_ABOVE_ROWS = 1_000_000;
/** Rows the sample aims at (1% of the pages at 10M rows). */
const BOUNDARY_SAMPLE_ROWS = 100_000;

/** Statements for one configured table, with its column types looked up once. */
export class TableSql {
  private constructor(
    private readonly db: SqlRunner,
    private readonly dialect: Dialect,
    readonly table: StoredTable,
    private readonly types: ReadonlyMap<string, string>,
    private readonly id: IdCast,
    private readonly chunkRows: number | undefined,
    private readonly sampleAboveRows: number,
  ) {}

  /**
   * Looks up the id and column types in the catalog: the table and every column must exist, and the id
   * must be a NOT NULL column of an id type with a unique index on exactly it (keyset pages by a
   * non-unique id skip the rest of a duplicate group at each page boundary). Nothing is written.
   * @throws ConfigError naming the table and column: missing, a type rekey cannot handle, or an id that
   * is not unique or allows NULL. UnexpectedAnswerError when the catalog lookup comes back without rows.
   */
  static async open(db: SqlRunner, table: StoredTable, options: TableSqlOptions = {}): Promise<TableSql> {
    const dialect = dialectOf(db.dialect);
    const { sql, params } = dialect.tableCatalog(table.table, table.schema);
    const result = await db.execute(sql, params, { expectRows: true });
    const found = new Map(
      result.rows.map((r) => [
        asText(toStored(r[0] ?? null)),
        {
          type: asText(toStored(r[1] ?? null)).toLowerCase(),
          columnType: asText(toStored(r[2] ?? null)).toLowerCase(),
          nullable: asText(toStored(r[3] ?? null)).toUpperCase() !== 'NO',
          unique: isTrue(r[4] ?? null),
        },
      ]),
    );
    const name = table.schema ? `${table.schema}.${table.table}` : table.table;
    if (found.size === 0)
      throw new ConfigError(`storedFields: table '${name}' does not exist in the database`);
    const types = new Map<string, string>();
    for (const column of [table.id, ...table.columns]) {
      const type = found.get(column)?.type;
      if (type === undefined)
        throw new ConfigError(`storedFields: column '${column}' does not exist in table '${name}'`);
      const known = dialect.castType(type);
      if (!known)
        throw new ConfigError(
          `storedFields: column '${name}.${column}' has type '${type}', which rekey cannot handle`,
        );
      types.set(column, known);
    }
    const id = found.get(table.id);
    const idType = types.get(table.id);
    if (!id || !idType || BINARY_TYPES.has(idType))
      throw new ConfigError(
        `storedFields: id column '${name}.${table.id}' has type '${id?.type}'; the id must be ${ID_TYPES_TEXT}`,
      );
    if (!id.unique)
      throw new ConfigError(
        `storedFields: id column '${name}.${table.id}' is not unique (no primary key or unique index on exactly ` +
          'that column): pages by it would skip rows that share an id. Add a primary key or a unique ' +
          `constraint on '${table.id}' alone, or choose another id column`,
      );
    if (id.nullable)
      throw new ConfigError(
        `storedFields: id column '${name}.${table.id}' allows NULL: rows with a NULL id would never be read. ` +
          `Make '${table.id}' NOT NULL, or choose another id column`,
      );
    const asked = options.chunkRows ?? (dialect.scansInChunks ? SCAN_CHUNK_ROWS : Number.POSITIVE_INFINITY);
    const chunkRows = Number.isFinite(asked) ? Math.max(1, Math.floor(asked)) : undefined;
    const sampleAboveRows = options.sampleAboveRows ?? SAMPLED_BOUNDARIES_ABOVE_ROWS;
    return new TableSql(
      db,
      dialect,
      table,
      types,
      dialect.idCast(idType, id.columnType),
      chunkRows,
      sampleAboveRows,
    );
  }

  /**
   * The same table, its catalog facts as `open` found them, with its statements sent through `db`: the
   * passes of one step share one lookup, each through its own (paced) runner.
   */
  through(db: SqlRunner): TableSql {
    return new TableSql(
      db,
      this.dialect,
      this.table,
      this.types,
      this.id,
      this.chunkRows,
      this.sampleAboveRows,
    );
  }

  /** The table's name for messages and logs. */
  get name(): string {
    return this.table.schema ? `${this.table.schema}.${this.table.table}` : this.table.table;
  }

  /** Whether a column holds bytes (bytea, blob) rather than text. */
  isBinary(column: string): boolean {
    return BINARY_TYPES.has(this.types.get(column) ?? '');
  }

  /**
   * Rows with a value in `column`, optionally only those not starting with `skipPrefix`.
   * @throws UnexpectedAnswerError when the aggregate comes back without its one row (never read as 0).
   */
  async stats(column: string, skipPrefix?: string): Promise<ColumnStats> {
    if (this.chunkRows !== undefined) return this.statsInChunks(column, this.chunkRows, skipPrefix);
    const c = this.col(column);
    const params: Record<string, SqlValue> = {};
    const where = this.valueFilter(column, skipPrefix, params);
    const result = await this.db.execute(
      `SELECT COUNT(*), COALESCE(MAX(OCTET_LENGTH(${c})), 0), COALESCE(AVG(OCTET_LENGTH(${c})), 0) FROM ${this.from()} WHERE ${where}`,
      params,
      { expectRows: true },
    );
    const row = oneRow(result.rows, `COUNT, MAX and AVG over ${this.name}.${column}`);
    return { rows: Number(row[0]), maxBytes: Number(row[1]), avgBytes: Number(row[2]) };
  }

  /**
   * Statements one aggregate over a column of a table of `rows` rows takes: one, or one a chunk (the
   * last one short, or empty when the rows fill their chunks exactly).
   */
  statementsPerScan(rows: number): number {
    return this.chunkRows === undefined ? 1 : Math.floor(rows / this.chunkRows) + 1;
  }

  /**
   * Runs an aggregate of another module's (the database census) over the whole table a chunk of the id
   * index at a time, in id order (see SCAN_CHUNK_ROWS and walkChunks). `visit` gets the chunk as a
   * derived table of the id (`k`) and `select`'s columns, its bounds bound into `params`, and the id
   * it starts after (none for the first); it answers how many rows the chunk held and its last id; a
   * chunk short of its rows is the last.
   * @returns false, having run nothing, where the engine reads a whole column in one statement.
   */
  async forEachChunk(
    select: string,
    visit: (
      chunk: string,
      params: Record<string, SqlValue>,
      after: RowId | undefined,
    ) => Promise<{ scanned: number; end: SqlValue | undefined }>,
  ): Promise<boolean> {
    const chunkRows = this.chunkRows;
    if (chunkRows === undefined) return false;
    await this.walkChunks(chunkRows, (after) => {
      const params: Record<string, SqlValue> = {};
      return visit(this.chunk(select, after, chunkRows, params), params, after);
    });
    return true;
  }

  /**
   * The condition for ids after `after` (exclusive) and up to `upTo` (inclusive), compared as the id
   * column's type, its bounds bound into `params`; '' for every id. For statements of another module's
   * over a range that {@link forEachChunk} answered.
   */
  idsBetween(range: IdRange, params: Record<string, SqlValue>): string {
    return this.idRange(range, params);
  }

  /** {@link stats} a chunk of the id index at a time (see SCAN_CHUNK_ROWS). */
  private async statsInChunks(column: string, chunkRows: number, skipPrefix?: string): Promise<ColumnStats> {
    const c = this.col(column);
    let rows = 0;
    let maxBytes = 0;
    let sumBytes = 0;
    await this.walkChunks(chunkRows, async (after) => {
      const params: Record<string, SqlValue> = {};
      const counted = this.valueFilter(column, skipPrefix, params);
      const chunk = this.chunk(
        `CASE WHEN ${counted} THEN OCTET_LENGTH(${c}) END AS len`,
        after,
        chunkRows,
        params,
      );
      const result = await this.db.execute(
        `SELECT COUNT(*), COUNT(s.len), COALESCE(MAX(s.len), 0), COALESCE(SUM(s.len), 0), CAST(MAX(s.k) AS ${this.dialect.idText}) FROM (${chunk}) AS s`,
        params,
        { expectRows: true },
      );
      const row = oneRow(result.rows, `COUNT, MAX and SUM over a chunk of ${this.name}.${column}`);
      rows += Number(row[1]);
      maxBytes = Math.max(maxBytes, Number(row[2]));
      sumBytes += Number(row[3]);
      return { scanned: Number(row[0]), end: row[4] };
    });
    return { rows, maxBytes, avgBytes: rows > 0 ? sumBytes / rows : 0 };
  }

  /**
   * Visits the table's chunks in id order, each starting after the end the one before answered, until
   * one covers fewer than `chunkRows` rows. Every statement answers where its chunk ended, so the chunks
   * need no statements of their own; chunks open at both ends cover every row, whatever the app
   * inserts or deletes meanwhile (only their sizes drift).
   */
  private async walkChunks(
    chunkRows: number,
    visit: (after: RowId | undefined) => Promise<{ scanned: number; end: SqlValue | undefined }>,
  ): Promise<void> {
    let after: RowId | undefined;
    for (;;) {
      const { scanned, end } = await visit(after);
      if (scanned < chunkRows || end === null || end === undefined) return;
      after = toRowId(end);
    }
  }

  /** A chunk's rows: `chunkRows` rows of the table after `after` in id order, the id as `k`. */
  private chunk(
    select: string,
    after: RowId | undefined,
    chunkRows: number,
    params: Record<string, SqlValue>,
  ): string {
    const id = this.col(this.table.id);
    const ids = this.idRange(after === undefined ? {} : { after }, params);
    return `SELECT ${id} AS k, ${select} FROM ${this.from()}${ids ? ` WHERE ${ids}` : ''} ORDER BY ${id} LIMIT ${chunkRows}`;
  }

  /** Ids of rows whose value in `column` is larger than `bytes` (at most 10). */
  async idsLargerThan(column: string, bytes: number): Promise<RowId[]> {
    const chunkRows = this.chunkRows;
    if (chunkRows === undefined) return this.idsLargerThanIn(column, bytes, {}, 10);
    const c = this.col(column);
    const ids: RowId[] = [];
    await this.walkChunks(chunkRows, async (after) => {
      const params: Record<string, SqlValue> = { bytes };
      const chunk = this.chunk(
        `CASE WHEN OCTET_LENGTH(${c}) > :bytes THEN 1 END AS large`,
        after,
        chunkRows,
        params,
      );
      const result = await this.db.execute(
        `SELECT COUNT(*), CAST(MAX(s.k) AS ${this.dialect.idText}), COUNT(s.large) FROM (${chunk}) AS s`,
        params,
        { expectRows: true },
      );
      const row = oneRow(result.rows, `COUNT and MAX over a chunk of ${this.name}.${column}`);
      const scanned = Number(row[0]);
      // Rarely any: only then are their ids read, from this chunk's range alone.
      if (Number(row[2]) > 0 && ids.length < 10) {
        const end = scanned < chunkRows ? undefined : toRowId(row[1] ?? null);
        ids.push(
          ...(await this.idsLargerThanIn(
            column,
            bytes,
            { ...(after !== undefined && { after }), ...(end !== undefined && { upTo: end }) },
            10 - ids.length,
          )),
        );
      }
      return { scanned, end: row[1] };
    });
    return ids;
  }

  private async idsLargerThanIn(
    column: string,
    bytes: number,
    range: IdRange,
    limit: number,
  ): Promise<RowId[]> {
    const params: Record<string, SqlValue> = { bytes };
    const ids = this.idRange(range, params);
    const result = await this.db.execute(
      `SELECT ${this.idText()} FROM ${this.from()} WHERE OCTET_LENGTH(${this.col(column)}) > :bytes${ids ? ` AND ${ids}` : ''} ORDER BY ${this.col(this.table.id)} LIMIT ${limit}`,
      params,
      { expectRows: true },
    );
    return result.rows.map((r) => toRowId(r[0] ?? null));
  }

  /**
   * One keyset page of rows with a value in `column`, ordered by id, after `after` (exclusive) and up
   * to `upTo` (inclusive), skipping values that start with `skipPrefix`. Ids are selected as text and
   * the bounds compared as the id column's type, so ids of any size come back and go out exactly.
   */
  async page(
    column: string,
    options: IdRange & { limit: number; skipPrefix?: string },
  ): Promise<StoredRow[]> {
    const params: Record<string, SqlValue> = {};
    const where = this.rangeFilter(column, options, params);
    const limit = Math.max(1, Math.floor(options.limit));
    const result = await this.db.execute(
      `SELECT ${this.idText()} AS i, ${this.col(column)} AS v FROM ${this.from()} WHERE ${where} ORDER BY ${this.col(this.table.id)} LIMIT ${limit}`,
      params,
      // JSON records would carry bytes as text of an engine-specific form; binary pages stay typed.
      { jsonRecords: !this.isBinary(column), expectRows: true },
    );
    return result.rows.map((r) => ({ id: toRowId(r[0] ?? null), value: toStored(r[1] ?? null) }));
  }

  /**
   * Every `every`-th id, in id order, of the rows a pass would read (a value in `column`, not starting
   * with `skipPrefix`), at most `limit` of them: the boundaries of key ranges of about `every` rows
   * each, so that several streams can page a column side by side. `ROW_NUMBER() OVER (ORDER BY id)`
   * numbers rows in the same order as the pages (PostgreSQL, MySQL 8, MariaDB 10.2+); the ids come
   * back as text, like a page's.
   */
  async boundaries(
    column: string,
    options: { every: number; limit: number; skipPrefix?: string },
  ): Promise<RowId[]> {
    const every = Math.max(1, Math.floor(options.every));
    const limit = Math.max(1, Math.floor(options.limit));
    if (this.dialect.samplesPages && every * (limit + 1) > this.sampleAboveRows)
      return this.boundariesFromSample(column, { ...options, every, limit });
    if (!this.dialect.windowsStopEarly) return this.boundariesOneByOne(column, { ...options, every, limit });
    const id = this.col(this.table.id);
    const params: Record<string, SqlValue> = {};
    const where = this.valueFilter(column, options.skipPrefix, params);
    const result = await this.db.execute(
      `SELECT CAST(s.k AS ${this.dialect.idText}) FROM (SELECT ${id} AS k, ROW_NUMBER() OVER (ORDER BY ${id}) AS n FROM ${this.from()} WHERE ${where}) AS s WHERE MOD(s.n, ${every}) = 0 ORDER BY s.k LIMIT ${limit}`,
      params,
      { expectRows: true },
    );
    return result.rows.map((r) => toRowId(r[0] ?? null));
  }

  /**
   * {@link boundaries} of a large column (see SAMPLED_BOUNDARIES_ABOVE_ROWS) as the quantiles of a
   * sample of its pages: `limit` ids cutting the sampled rows a pass would read into `limit + 1` parts
   * of about equal rows. Fewer when the sample holds fewer distinct ids (none from an empty sample: the
   * column is then one range), always ascending and distinct.
   */
  private async boundariesFromSample(
    column: string,
    options: { every: number; limit: number; skipPrefix?: string },
  ): Promise<RowId[]> {
    const rows = options.every * (options.limit + 1);
    // Numbers computed here, not values: written into the statement as they are.
    const percent = Math.min(100, Math.max(0.0001, (100 * BOUNDARY_SAMPLE_ROWS) / rows));
    const fractions = Array.from({ length: options.limit }, (_, i) => (i + 1) / (options.limit + 1));
    const id = this.col(this.table.id);
    const params: Record<string, SqlValue> = {};
    const where = this.valueFilter(column, options.skipPrefix, params);
    const result = await this.db.execute(
      `SELECT CAST(b.k AS ${this.dialect.idText}) FROM unnest((SELECT percentile_disc(ARRAY[${fractions.join(',')}]::float8[]) WITHIN GROUP (ORDER BY ${id}) FROM ${this.from()} TABLESAMPLE SYSTEM (${percent.toFixed(4)}) WHERE ${where})) WITH ORDINALITY AS b(k, n) WHERE b.k IS NOT NULL ORDER BY b.n`,
      params,
      { expectRows: true },
    );
    const ids: RowId[] = [];
    // Neighbouring quantiles of a small sample can be the same row; a range between them would be empty.
    for (const r of result.rows) {
      const next = toRowId(r[0] ?? null);
      if (ids.at(-1) !== next) ids.push(next);
    }
    return ids;
  }

  /**
   * {@link boundaries} as statements that each skip rows after the one before by the id index: MySQL
   * numbers every row of the column before it filters the window (17.8 s for a 10M-row table on
   * MariaDB 10.11, past the Data API's 45 s a call at a few tens of millions). A statement skips at
   * most `chunkRows` rows (see SCAN_CHUNK_ROWS), so a boundary `every` rows on takes several: one
   * skipping a whole range read 1.25M uncached rows in 3.1 s there, and so would pass 45 s at a range
   * of about 18M rows (36M rows in two streams). The same ids while the column does not change; if it
   * does, the ranges still cover every row, being open at both ends, and only their sizes differ.
   */
  private async boundariesOneByOne(
    column: string,
    options: { every: number; limit: number; skipPrefix?: string },
  ): Promise<RowId[]> {
    const ids: RowId[] = [];
    const step = Math.min(options.every, this.chunkRows ?? options.every);
    let after: RowId | undefined;
    let skipped = 0;
    while (ids.length < options.limit) {
      const skip = Math.min(step, options.every - skipped);
      const params: Record<string, SqlValue> = {};
      const where = this.rangeFilter(column, { skipPrefix: options.skipPrefix, after }, params);
      const result = await this.db.execute(
        `SELECT ${this.idText()} FROM ${this.from()} WHERE ${where} ORDER BY ${this.col(this.table.id)} LIMIT 1 OFFSET ${skip - 1}`,
        params,
        { expectRows: true },
      );
      const row = result.rows[0];
      if (row === undefined) break;
      after = toRowId(row[0] ?? null);
      skipped += skip;
      if (skipped < options.every) continue;
      ids.push(after);
      skipped = 0;
    }
    return ids;
  }

  /**
   * Where a pass's pages of `column` would end, in id order, at most `limit` ids: a page ends at the
   * row that takes the rows' running weight past a multiple of `page.weight`, where a row weighs
   * `perByte` a byte of its value plus `perRow`, and at least `minPerRow` (so that a page also holds
   * at most a number of rows). Unlike {@link boundaries} it needs no count first, so it can be sent
   * beside the count. It reads at most the rows that `limit` pages can hold, each row weighing at
   * least `minPerRow`: PostgreSQL stopped after them anyway, but MySQL computes a window over every
   * row of its derived table (2 s at a million rows on MariaDB 10.11 where the bounded query takes
   * milliseconds), which at tens of millions of rows would pass the Data API's 45 s a call. The ends
   * are the same: those rows hold the first `limit` of them whenever the column has more rows.
   */
  async pageEnds(
    column: string,
    page: {
      weight: number;
      perByte: number;
      perRow: number;
      minPerRow: number;
      limit: number;
    },
  ): Promise<RowId[]> {
    const id = this.col(this.table.id);
    const params: Record<string, SqlValue> = {};
    const where = this.valueFilter(column, undefined, params);
    // In tenths, as integers: both engines sum and divide integers exactly (PostgreSQL's numeric sums
    // of 1.1 took three times as long).
    const tenths = (n: number) => Math.max(1, Math.round(n * 10));
    const weight = `GREATEST(OCTET_LENGTH(${this.col(column)}) * ${tenths(page.perByte)} + ${tenths(page.perRow)}, ${tenths(page.minPerRow)})`;
    const each = tenths(page.weight);
    const limit = Math.max(1, Math.floor(page.limit));
    // Any run of this many rows weighs a page at least, so it holds a page end: `limit` such runs
    // hold `limit` ends, however much more than a page one large row weighs.
    const rowsPerEnd = Math.ceil(each / tenths(page.minPerRow));
    const rowsRead = limit * rowsPerEnd;
    const result = await this.db.execute(
      `SELECT CAST(s.k AS ${this.dialect.idText}) FROM (SELECT r.k, r.w, SUM(r.w) OVER (ORDER BY r.k) AS run FROM (SELECT ${id} AS k, ${weight} AS w FROM ${this.from()} WHERE ${where} ORDER BY ${id} LIMIT ${rowsRead}) AS r) AS s WHERE FLOOR(s.run / ${each}) > FLOOR((s.run - s.w) / ${each}) ORDER BY s.k LIMIT ${limit}`,
      params,
      { expectRows: true },
    );
    return result.rows.map((r) => toRowId(r[0] ?? null));
  }

  /**
   * Writes a page in one statement (so one transaction), each row only where it still holds the value
   * that was read: a concurrent write by the app is never overwritten.
   * @returns how many rows were written; the rest changed meanwhile.
   */
  async compareAndSwap(column: string, writes: readonly CasWrite[]): Promise<number> {
    if (writes.length === 0) return 0;
    if (this.dialect.unnestsArrays) return this.compareAndSwapArrays(column, writes);
    const binary = this.isBinary(column);
    const params: Record<string, SqlValue> = {};
    const tuples: string[] = [];
    writes.forEach((w, i) => {
      params[`i${i}`] = w.id;
      params[`o${i}`] = w.old;
      params[`n${i}`] = binary ? Buffer.from(w.next, 'latin1') : w.next;
      // The derived table's id column takes the type of the cast, so the join compares integers as
      // integers (a BIGINT against a string would compare as DOUBLE and match a neighbouring id).
      tuples.push(
        i === 0
          ? `SELECT ${this.idParam('i0')} AS i, :o0 AS o, :n0 AS n`
          : `SELECT ${this.idParam(`i${i}`)}, :o${i}, :n${i}`,
      );
    });
    const t = this.from();
    const id = this.col(this.table.id);
    const c = this.col(column);
    // BINARY: a case-insensitive collation must not let a different value pass for the old one.
    const sql = `UPDATE ${t} AS t JOIN (${tuples.join(' UNION ALL ')}) AS v ON t.${id} = v.i AND BINARY t.${c} = BINARY v.o SET t.${c} = v.n`;
    const result = await this.db.execute(sql, params);
    return result.updated;
  }

  /**
   * PostgreSQL: the page travels as three array parameters (ids, old values, new values) unnested side
   * by side. Against three typed parameters per row this sends a quarter fewer bytes and halves the
   * database's CPU (binding and a 3,000-entry VALUES list); against one JSON parameter it spares the
   * SDK escaping every quote of it. Bytes travel base64-encoded; ids are unnested as the id column's
   * type (bigint, bpchar, uuid, ...), so they compare as the column does.
   */
  private async compareAndSwapArrays(column: string, writes: readonly CasWrite[]): Promise<number> {
    const binary = this.isBinary(column);
    const encode = (value: string | Uint8Array) => Buffer.from(asText(value), 'latin1').toString('base64');
    const ids = writes.map((w) => w.id);
    const olds = writes.map((w) => (binary ? encode(w.old) : asText(w.old)));
    const news = writes.map((w) => (binary ? encode(w.next) : w.next));
    const id = this.col(this.table.id);
    const c = this.col(column);
    const stored = (v: string) => (binary ? `decode(${v}, 'base64')` : v);
    const result = await this.db.execute(
      `UPDATE ${this.from()} AS t SET ${c} = ${stored('v.n')} FROM unnest(CAST(:ids AS ${this.id.arrayType}[]), CAST(:olds AS text[]), CAST(:news AS text[])) AS v(i, o, n) WHERE t.${id} = v.i AND t.${c} = ${stored('v.o')}`,
      { ids: pgArrayLiteral(ids), olds: pgArrayLiteral(olds), news: pgArrayLiteral(news) },
    );
    return result.updated;
  }

  /** Row counts per value prefix of `length` characters among values starting with `formatPrefix`. */
  async countByPrefix(column: string, formatPrefix: string, length: number): Promise<Map<string, number>> {
    const c = this.col(column);
    const n = Math.floor(length);
    const matches = `SUBSTRING(${c}, 1, ${formatPrefix.length}) = ${this.param('format', column)}`;
    const counts = new Map<string, number>();
    const add = (rows: readonly (readonly SqlValue[])[]) => {
      for (const r of rows) {
        if (r[0] === null || r[0] === undefined) continue;
        const prefix = asText(toStored(r[0]));
        counts.set(prefix, (counts.get(prefix) ?? 0) + Number(r[1]));
      }
    };
    const chunkRows = this.chunkRows;
    if (chunkRows === undefined) {
      const result = await this.db.execute(
        `SELECT SUBSTRING(${c}, 1, ${n}) AS p, COUNT(*) FROM ${this.from()} WHERE ${matches} GROUP BY SUBSTRING(${c}, 1, ${n})`,
        { format: this.text(column, formatPrefix) },
        { expectRows: true },
      );
      add(result.rows);
      return counts;
    }
    await this.walkChunks(chunkRows, async (after) => {
      const params: Record<string, SqlValue> = { format: this.text(column, formatPrefix) };
      const chunk = this.chunk(
        `CASE WHEN ${matches} THEN SUBSTRING(${c}, 1, ${n}) END AS p`,
        after,
        chunkRows,
        params,
      );
      // Every row of the chunk is in a group (those that do not match in the NULL one), and the group
      // with the chunk's last id comes first: its MAX is where the chunk ended.
      const result = await this.db.execute(
        `SELECT s.p, COUNT(*), CAST(MAX(s.k) AS ${this.dialect.idText}) FROM (${chunk}) AS s GROUP BY s.p ORDER BY MAX(s.k) DESC`,
        params,
        { expectRows: true },
      );
      add(result.rows);
      const scanned = result.rows.reduce((sum, r) => sum + Number(r[1]), 0);
      return { scanned, end: result.rows[0]?.[2] };
    });
    return counts;
  }

  /**
   * The rows of `column` a pass reads (see {@link valueFilter}) with ids after `after` (exclusive) and
   * up to `upTo` (inclusive), the bounds compared as the id column's type.
   */
  private rangeFilter(
    column: string,
    range: IdRange & { skipPrefix?: string },
    params: Record<string, SqlValue>,
  ): string {
    const ids = this.idRange(range, params);
    const values = this.valueFilter(column, range.skipPrefix, params);
    return ids ? `${values} AND ${ids}` : values;
  }

  /** Ids after `after` (exclusive) and up to `upTo` (inclusive), or '' for every id. */
  private idRange(range: IdRange, params: Record<string, SqlValue>): string {
    const id = this.col(this.table.id);
    const conditions: string[] = [];
    if (range.after !== undefined) {
      conditions.push(`${id} > ${this.idParam('after')}`);
      params.after = range.after;
    }
    if (range.upTo !== undefined) {
      conditions.push(`${id} <= ${this.idParam('upTo')}`);
      params.upTo = range.upTo;
    }
    return conditions.join(' AND ');
  }

  private valueFilter(
    column: string,
    skipPrefix: string | undefined,
    params: Record<string, SqlValue>,
  ): string {
    const c = this.col(column);
    if (skipPrefix === undefined) return `${c} IS NOT NULL`;
    params.skip = this.text(column, skipPrefix);
    return `${c} IS NOT NULL AND SUBSTRING(${c}, 1, ${skipPrefix.length}) <> ${this.param('skip', column)}`;
  }

  private text(column: string, value: string): SqlValue {
    return this.isBinary(column) ? Buffer.from(value, 'latin1') : value;
  }

  /** A parameter reference; PostgreSQL gets a cast so untyped Data API values compare with the column. */
  private param(name: string, column: string): string {
    return this.dialect.castsParameters ? `CAST(:${name} AS ${this.types.get(column)})` : `:${name}`;
  }

  /** A bound id (always text), compared as the id column's own type. */
  private idParam(name: string): string {
    return this.id.cast ? `CAST(:${name} AS ${this.id.cast})` : `:${name}`;
  }

  /** The id in a select list, as text: digits, uuid or characters exactly as stored. */
  private idText(): string {
    return `CAST(${this.col(this.table.id)} AS ${this.dialect.idText})`;
  }

  private col(name: string): string {
    return this.dialect.quote(name);
  }

  private from(): string {
    const table = this.dialect.quote(this.table.table);
    return this.table.schema ? `${this.dialect.quote(this.table.schema)}.${table}` : table;
  }
}

/** Array elements that PostgreSQL reads as they are: ciphertexts, numbers and uuids all are. */
const BARE_ELEMENT = /^[A-Za-z0-9_:=.+/-]+$/;

/**
 * A PostgreSQL array literal of the values: bare where that is unambiguous, otherwise quoted with
 * backslash escapes (and never a bare NULL, which would read as a null element).
 */
export function pgArrayLiteral(values: readonly (string | number)[]): string {
  const element = (value: string | number) => {
    const text = String(value);
    // The length check first: upper-casing every ciphertext to compare it with NULL copied each one.
    return BARE_ELEMENT.test(text) && !(text.length === 4 && text.toUpperCase() === 'NULL')
      ? text
      : `"${text.replace(/[\\"]/g, '\\$&')}"`;
  };
  return `{${values.map(element).join(',')}}`;
}

/** The stored value as text (bytes read as Latin-1, which round-trips every byte). */
export function asText(value: string | Uint8Array): string {
  return typeof value === 'string' ? value : Buffer.from(value).toString('latin1');
}

/** An id as the database gave it (selected as text). A missing id is an answer rekey did not ask for. */
function toRowId(value: SqlValue): RowId {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('latin1');
  throw new UnexpectedAnswerError('an id in every row', 'a row whose id is NULL');
}

/** Whether a catalog flag is set, as a PostgreSQL boolean or a MySQL 0/1 comes back. */
function isTrue(value: SqlValue): boolean {
  return value === true || value === 1 || value === '1' || value === 't' || value === 'true';
}

function toStored(value: SqlValue): string | Uint8Array {
  if (typeof value === 'string' || value instanceof Uint8Array) return value;
  return String(value);
}

/**
 * The one row of an aggregate, never read as zeros when it is missing.
 * @throws UnexpectedAnswerError when the answer holds no row or more than one.
 */
export function oneRow(rows: readonly (readonly SqlValue[])[], asked: string): readonly SqlValue[] {
  const row = rows[0];
  if (row === undefined || rows.length !== 1)
    throw new UnexpectedAnswerError(`one row of ${asked}`, `${rows.length} rows`);
  return row;
}
