import type { StoredTable } from './config.js';
import { ConfigError } from './errors.js';
import type { SqlRunner, SqlValue } from './ports.js';

/**
 * Every statement rekey runs, built in one place. Identifiers come only from validated config and are
 * quoted per dialect; values always travel as named parameters; the one literal spliced in is a
 * page size that rekey computes itself.
 */

/** Column types rekey can read, write and compare, per dialect, mapped to the name used in CAST. */
const PG_TYPES: Record<string, string> = {
  smallint: 'smallint',
  integer: 'integer',
  bigint: 'bigint',
  numeric: 'numeric',
  text: 'text',
  'character varying': 'varchar',
  character: 'char',
  uuid: 'uuid',
  bytea: 'bytea',
};
const MYSQL_TYPES = new Set([
  'tinyint',
  'smallint',
  'mediumint',
  'int',
  'bigint',
  'decimal',
  'char',
  'varchar',
  'tinytext',
  'text',
  'mediumtext',
  'longtext',
  'binary',
  'varbinary',
  'tinyblob',
  'blob',
  'mediumblob',
  'longblob',
]);
const BINARY_TYPES = new Set(['bytea', 'binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);

/** An id value as the database gave it (number, string or uuid text). */
export type RowId = string | number;

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

/** Statements for one configured table, with its column types looked up once. */
export class TableSql {
  private constructor(
    private readonly db: SqlRunner,
    readonly table: StoredTable,
    private readonly types: ReadonlyMap<string, string>,
  ) {}

  /**
   * Looks up the id and column types in the catalog: the table and every column must exist.
   * @throws ConfigError naming the missing table or column, or a type rekey cannot handle.
   */
  static async open(db: SqlRunner, table: StoredTable): Promise<TableSql> {
    const pg = db.dialect === 'postgres';
    const sql = pg
      ? 'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = :schema AND table_name = :table'
      : 'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = :table';
    const params: Record<string, SqlValue> = pg
      ? { schema: table.schema ?? 'public', table: table.table }
      : { table: table.table };
    const result = await db.execute(sql, params);
    const found = new Map(
      result.rows.map((r) => [asText(toStored(r[0] ?? null)), asText(toStored(r[1] ?? null)).toLowerCase()]),
    );
    const name = table.schema ? `${table.schema}.${table.table}` : table.table;
    if (found.size === 0)
      throw new ConfigError(`storedFields: table '${name}' does not exist in the database`);
    const types = new Map<string, string>();
    for (const column of [table.id, ...table.columns]) {
      const type = found.get(column);
      if (type === undefined)
        throw new ConfigError(`storedFields: column '${column}' does not exist in table '${name}'`);
      const known = pg ? PG_TYPES[type] : MYSQL_TYPES.has(type) ? type : undefined;
      if (!known)
        throw new ConfigError(
          `storedFields: column '${name}.${column}' has type '${type}', which rekey cannot handle`,
        );
      types.set(column, known);
    }
    return new TableSql(db, table, types);
  }

  /** The table's name for messages and logs. */
  get name(): string {
    return this.table.schema ? `${this.table.schema}.${this.table.table}` : this.table.table;
  }

  /** Whether a column holds bytes (bytea, blob) rather than text. */
  isBinary(column: string): boolean {
    return BINARY_TYPES.has(this.types.get(column) ?? '');
  }

  /** Rows with a value in `column`, optionally only those not starting with `skipPrefix`. */
  async stats(column: string, skipPrefix?: string): Promise<ColumnStats> {
    const c = this.col(column);
    const params: Record<string, SqlValue> = {};
    const where = this.valueFilter(column, skipPrefix, params);
    const result = await this.db.execute(
      `SELECT COUNT(*), COALESCE(MAX(OCTET_LENGTH(${c})), 0), COALESCE(AVG(OCTET_LENGTH(${c})), 0) FROM ${this.from()} WHERE ${where}`,
      params,
    );
    const row = result.rows[0] ?? [0, 0, 0];
    return { rows: Number(row[0]), maxBytes: Number(row[1]), avgBytes: Number(row[2]) };
  }

  /** Ids of rows whose value in `column` is larger than `bytes` (at most 10). */
  async idsLargerThan(column: string, bytes: number): Promise<RowId[]> {
    const result = await this.db.execute(
      `SELECT ${this.col(this.table.id)} FROM ${this.from()} WHERE OCTET_LENGTH(${this.col(column)}) > :bytes ORDER BY ${this.col(this.table.id)} LIMIT 10`,
      { bytes },
    );
    return result.rows.map((r) => toRowId(r[0] ?? null));
  }

  /**
   * One keyset page of rows with a value in `column`, ordered by id, after `after` (exclusive) and up
   * to `upTo` (inclusive), skipping values that start with `skipPrefix`.
   */
  async page(
    column: string,
    options: { after?: RowId; upTo?: RowId; limit: number; skipPrefix?: string },
  ): Promise<StoredRow[]> {
    const id = this.col(this.table.id);
    const params: Record<string, SqlValue> = {};
    const conditions = [this.valueFilter(column, options.skipPrefix, params)];
    if (options.after !== undefined) {
      conditions.push(`${id} > ${this.param('after', this.table.id)}`);
      params.after = options.after;
    }
    if (options.upTo !== undefined) {
      conditions.push(`${id} <= ${this.param('upTo', this.table.id)}`);
      params.upTo = options.upTo;
    }
    const limit = Math.max(1, Math.floor(options.limit));
    const result = await this.db.execute(
      `SELECT ${id} AS i, ${this.col(column)} AS v FROM ${this.from()} WHERE ${conditions.join(' AND ')} ORDER BY ${id} LIMIT ${limit}`,
      params,
      // JSON records would carry bytes as text of an engine-specific form; binary pages stay typed.
      { jsonRecords: !this.isBinary(column) },
    );
    return result.rows.map((r) => ({ id: toRowId(r[0] ?? null), value: toStored(r[1] ?? null) }));
  }

  /**
   * Writes a page in one statement (so one transaction), each row only where it still holds the value
   * that was read: a concurrent write by the app is never overwritten.
   * @returns how many rows were written; the rest changed meanwhile.
   */
  async compareAndSwap(column: string, writes: readonly CasWrite[]): Promise<number> {
    if (writes.length === 0) return 0;
    if (this.db.dialect === 'postgres') return this.compareAndSwapArrays(column, writes);
    const binary = this.isBinary(column);
    const params: Record<string, SqlValue> = {};
    const tuples: string[] = [];
    writes.forEach((w, i) => {
      params[`i${i}`] = w.id;
      params[`o${i}`] = w.old;
      params[`n${i}`] = binary ? Buffer.from(w.next, 'latin1') : w.next;
      tuples.push(
        this.db.dialect === 'postgres'
          ? `(${this.param(`i${i}`, this.table.id)}, ${this.param(`o${i}`, column)}, ${this.param(`n${i}`, column)})`
          : i === 0
            ? `SELECT :i0 AS i, :o0 AS o, :n0 AS n`
            : `SELECT :i${i}, :o${i}, :n${i}`,
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
   * SDK escaping every quote of it. Bytes travel base64-encoded.
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
      `UPDATE ${this.from()} AS t SET ${c} = ${stored('v.n')} FROM unnest(CAST(:ids AS ${this.arrayIdType()}[]), CAST(:olds AS text[]), CAST(:news AS text[])) AS v(i, o, n) WHERE t.${id} = v.i AND t.${c} = ${stored('v.o')}`,
      { ids: pgArrayLiteral(ids), olds: pgArrayLiteral(olds), news: pgArrayLiteral(news) },
    );
    return result.updated;
  }

  /** The id's element type in an array; `char` alone would mean char(1), so text types are `text`. */
  private arrayIdType(): string {
    const type = this.types.get(this.table.id) ?? 'text';
    return ['varchar', 'char'].includes(type) ? 'text' : type;
  }

  /** Row counts per value prefix of `length` characters among values starting with `formatPrefix`. */
  async countByPrefix(column: string, formatPrefix: string, length: number): Promise<Map<string, number>> {
    const c = this.col(column);
    const params: Record<string, SqlValue> = { format: this.text(column, formatPrefix) };
    const result = await this.db.execute(
      `SELECT SUBSTRING(${c}, 1, ${Math.floor(length)}) AS p, COUNT(*) FROM ${this.from()} WHERE SUBSTRING(${c}, 1, ${formatPrefix.length}) = ${this.param('format', column)} GROUP BY SUBSTRING(${c}, 1, ${Math.floor(length)})`,
      params,
    );
    return new Map(result.rows.map((r) => [asText(toStored(r[0] ?? null)), Number(r[1])]));
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
    return this.db.dialect === 'postgres' ? `CAST(:${name} AS ${this.types.get(column)})` : `:${name}`;
  }

  private col(name: string): string {
    return quoteIdentifier(this.db.dialect, name);
  }

  private from(): string {
    const table = quoteIdentifier(this.db.dialect, this.table.table);
    return this.table.schema ? `${quoteIdentifier(this.db.dialect, this.table.schema)}.${table}` : table;
  }
}

/**
 * Quotes an identifier for the dialect. Identifiers are already restricted to [A-Za-z0-9_] by config
 * validation; quoting also keeps reserved words and case intact.
 * @throws ConfigError if the name is not a plain identifier (defence in depth).
 */
export function quoteIdentifier(dialect: 'postgres' | 'mysql', name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name))
    throw new ConfigError(`'${name}' is not a plain SQL identifier`);
  return dialect === 'postgres' ? `"${name}"` : `\`${name}\``;
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
    return BARE_ELEMENT.test(text) && text.toUpperCase() !== 'NULL'
      ? text
      : `"${text.replace(/[\\"]/g, '\\$&')}"`;
  };
  return `{${values.map(element).join(',')}}`;
}

/** The stored value as text (bytes read as Latin-1, which round-trips every byte). */
export function asText(value: string | Uint8Array): string {
  return typeof value === 'string' ? value : Buffer.from(value).toString('latin1');
}

function toRowId(value: SqlValue): RowId {
  if (typeof value === 'number' || typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('latin1');
  return String(value);
}

function toStored(value: SqlValue): string | Uint8Array {
  if (typeof value === 'string' || value instanceof Uint8Array) return value;
  return String(value);
}
