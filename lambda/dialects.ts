import { ConfigError } from './errors.js';
import type { SqlValue } from './ports.js';

/** The database engines rekey runs on, as the Data API and the config name them. */
export type Engine = 'postgres' | 'mysql';

/** How bound ids are compared with the id column: as the column's own type, per dialect. */
export interface IdCast {
  /** The type a bound id is cast to (`CAST(:id AS …)`), or none when a bare string compares right. */
  readonly cast: string | undefined;
  /** PostgreSQL: the element type ids are unnested as in the compare-and-swap. */
  readonly arrayType: string;
}

/** What the census of the whole database (lambda/passes/db-census.ts) asks of the engine. */
export interface CensusDialect {
  /** Every text and binary column of the tables the census reads. */
  readonly catalog: string;
  /** Tables with a one-column primary key: `--full` pages them by it, as the passes page by id. */
  readonly primaryKeys: string;
  /** A column's value as the census compares it. */
  value(column: string): string;
  param(name: string, binary: boolean): string;
  bind(text: string, binary: boolean): SqlValue;
  /** Whether values come back as bytes (a page's size on the wire: base64). */
  binary(columnBinary: boolean): boolean;
}

/** Every difference between PostgreSQL and MySQL that rekey's statements depend on, in one place. */
export interface Dialect {
  readonly engine: Engine;
  /**
   * Quotes an identifier. Identifiers are already restricted to [A-Za-z0-9_] by config validation;
   * quoting also keeps reserved words and case intact.
   * @throws ConfigError if the name is not a plain identifier (defence in depth).
   */
  quote(name: string): string;
  /** The catalog lookup of one table: its columns' types, nullability, and unique indexes on each. */
  tableCatalog(table: string, schema: string | undefined): { sql: string; params: Record<string, SqlValue> };
  /** The name a CAST uses for a column type rekey can read, write and compare; undefined for others. */
  castType(dataType: string): string | undefined;
  /** How a bound id compares as the id column's type (`columnType`: MySQL's full type, e.g. unsigned). */
  idCast(castType: string, columnType: string): IdCast;
  /** The type an id is cast to in a select list, so that it travels as text. */
  readonly idText: string;
  /** Whether a bound value needs a cast to compare with its column (PostgreSQL: untyped Data API values). */
  readonly castsParameters: boolean;
  /** Whether a page is written as unnested arrays (PostgreSQL) rather than a derived table of tuples. */
  readonly unnestsArrays: boolean;
  /**
   * Whether a window over a column stops with the rows it was asked for (PostgreSQL: the id index is
   * read in order as far as needed) or numbers every row of its derived table first (MySQL, MariaDB).
   */
  readonly windowsStopEarly: boolean;
  /**
   * Whether an aggregate over a whole column reads it in chunks of the id index (MySQL: one statement
   * read a column too large for the buffer pool from disk, 23-33 s at 10M rows) or in one statement
   * (PostgreSQL: a parallel scan, 0.6-5 s at 10M rows). See SCAN_CHUNK_ROWS in lambda/sql.ts.
   */
  readonly scansInChunks: boolean;
  /** Whether a statement can read a random sample of a table's pages (PostgreSQL's TABLESAMPLE SYSTEM). */
  readonly samplesPages: boolean;
  /** Whether a config entry (schema optional) names this table of the catalog. */
  sameTable(configSchema: string | undefined, configTable: string, schema: string, table: string): boolean;
  readonly census: CensusDialect;
}

/** Column types that hold bytes rather than text, in either engine. */
export const BINARY_TYPES = new Set([
  'bytea',
  'binary',
  'varbinary',
  'tinyblob',
  'blob',
  'mediumblob',
  'longblob',
]);

/**
 * PostgreSQL's column types mapped to the name used in CAST. A bare `char` in a CAST means char(1), so
 * CHAR(n) columns are cast as `bpchar`, which keeps every character and compares blank-padded like the
 * column.
 */
const PG_TYPES: Record<string, string> = {
  smallint: 'smallint',
  integer: 'integer',
  bigint: 'bigint',
  numeric: 'numeric',
  text: 'text',
  'character varying': 'varchar',
  character: 'bpchar',
  uuid: 'uuid',
  bytea: 'bytea',
};
const MYSQL_INTEGERS = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint']);
const MYSQL_TEXTS = ['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext'];
const MYSQL_BINARIES = ['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob'];
const MYSQL_TYPES = new Set([...MYSQL_INTEGERS, 'decimal', ...MYSQL_TEXTS, ...MYSQL_BINARIES]);
/** Column types the census reads (information_schema's data_type). */
const PG_CENSUS_TYPES = ['text', 'character varying', 'character', 'bytea'];
const MYSQL_CENSUS_TYPES = [...MYSQL_TEXTS, ...MYSQL_BINARIES];

const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function quoted(open: string, close: string): (name: string) => string {
  return (name) => {
    if (!PLAIN_IDENTIFIER.test(name)) throw new ConfigError(`'${name}' is not a plain SQL identifier`);
    return `${open}${name}${close}`;
  };
}

/**
 * The catalog lookups say, per column, whether a unique index on exactly that column (the primary key, a
 * unique constraint or a unique index; full column, not partial, not an expression) guarantees that
 * keyset paging by it sees every row once.
 */
const PG_TABLE_CATALOG = `SELECT c.column_name, c.data_type, c.data_type AS column_type, c.is_nullable,
  EXISTS (SELECT 1 FROM pg_catalog.pg_index x
    JOIN pg_catalog.pg_class r ON r.oid = x.indrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
    JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum = x.indkey[0]
    WHERE n.nspname = c.table_schema AND r.relname = c.table_name AND a.attname = c.column_name
      AND x.indisunique AND x.indisvalid AND x.indnkeyatts = 1 AND x.indpred IS NULL AND x.indexprs IS NULL) AS is_unique
FROM information_schema.columns c WHERE c.table_schema = :schema AND c.table_name = :table`;
const mysqlTableCatalog = (
  schema: string,
) => `SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.IS_NULLABLE,
  EXISTS (SELECT 1 FROM information_schema.STATISTICS s
    WHERE s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME AND s.COLUMN_NAME = c.COLUMN_NAME
      AND s.NON_UNIQUE = 0 AND s.SUB_PART IS NULL
      AND NOT EXISTS (SELECT 1 FROM information_schema.STATISTICS o
        WHERE o.TABLE_SCHEMA = s.TABLE_SCHEMA AND o.TABLE_NAME = s.TABLE_NAME AND o.INDEX_NAME = s.INDEX_NAME
          AND o.SEQ_IN_INDEX > 1)) AS is_unique
FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = ${schema} AND c.TABLE_NAME = :table`;

/**
 * PostgreSQL: every schema but the system ones (a config entry without a schema means `public`), base
 * and partitioned tables (partitions are read through their parent), values compared as stored, bound
 * values cast to their column's type.
 */
const POSTGRES: Dialect = {
  engine: 'postgres',
  quote: quoted('"', '"'),
  tableCatalog: (table, schema) => ({ sql: PG_TABLE_CATALOG, params: { table, schema: schema ?? 'public' } }),
  castType: (dataType) => PG_TYPES[dataType],
  // Arrays of varchar ids unnest as text.
  idCast: (type) => ({ cast: type, arrayType: type === 'varchar' ? 'text' : type }),
  idText: 'text',
  castsParameters: true,
  unnestsArrays: true,
  windowsStopEarly: true,
  scansInChunks: false,
  samplesPages: true,
  sameTable: (configSchema, configTable, schema, table) =>
    configTable === table && (configSchema ?? 'public') === schema,
  census: {
    catalog: `SELECT c.table_schema, c.table_name, c.column_name, c.data_type, c.character_maximum_length
FROM information_schema.columns c
  JOIN pg_catalog.pg_namespace n ON n.nspname = c.table_schema
  JOIN pg_catalog.pg_class r ON r.relnamespace = n.oid AND r.relname = c.table_name
WHERE r.relkind IN ('r', 'p') AND NOT r.relispartition
  AND c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg\\_%'
  AND c.data_type IN (${PG_CENSUS_TYPES.map((t) => `'${t}'`).join(', ')})
ORDER BY c.table_schema, c.table_name, c.ordinal_position`,
    primaryKeys: `SELECT t.table_schema, t.table_name, MIN(k.column_name) FROM information_schema.table_constraints t
  JOIN information_schema.key_column_usage k ON k.constraint_schema = t.constraint_schema
    AND k.constraint_name = t.constraint_name AND k.table_schema = t.table_schema AND k.table_name = t.table_name
WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema NOT IN ('pg_catalog', 'information_schema')
GROUP BY t.table_schema, t.table_name HAVING COUNT(*) = 1`,
    value: (column) => column,
    param: (name, binary) => `CAST(:${name} AS ${binary ? 'bytea' : 'text'})`,
    bind: (text, binary) => (binary ? Buffer.from(text, 'latin1') : text),
    binary: (columnBinary) => columnBinary,
  },
};

/**
 * MySQL and MariaDB: the connection's database only (a schema in the config names another database),
 * bound values compared uncast, except ids (below); the census compares values as bytes
 * (`CAST(... AS BINARY)`) so that a case-insensitive collation never folds one key id into another.
 */
const MYSQL: Dialect = {
  engine: 'mysql',
  quote: quoted('`', '`'),
  tableCatalog: (table, schema): { sql: string; params: Record<string, SqlValue> } =>
    schema === undefined
      ? { sql: mysqlTableCatalog('DATABASE()'), params: { table } }
      : { sql: mysqlTableCatalog(':schema'), params: { table, schema } },
  castType: (dataType) => (MYSQL_TYPES.has(dataType) ? dataType : undefined),
  /**
   * MySQL converts a string compared with an integer or decimal column to DOUBLE, which cannot tell
   * 2^60 from 2^60 + 1: integer ids are cast to SIGNED or UNSIGNED, decimals to their own precision.
   * Text ids compare as strings under the column's collation, uncast.
   */
  idCast: (type, columnType) => {
    if (MYSQL_INTEGERS.has(type))
      return { cast: /\bunsigned\b/.test(columnType) ? 'UNSIGNED' : 'SIGNED', arrayType: type };
    if (type === 'decimal') {
      const m = /^decimal\((\d+),(\d+)\)/.exec(columnType);
      return { cast: m ? `DECIMAL(${m[1]},${m[2]})` : 'DECIMAL(65,30)', arrayType: type };
    }
    return { cast: undefined, arrayType: type };
  },
  idText: 'CHAR',
  castsParameters: false,
  unnestsArrays: false,
  windowsStopEarly: false,
  scansInChunks: true,
  samplesPages: false,
  sameTable: (_configSchema, configTable, _schema, table) => configTable === table,
  census: {
    catalog: `SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, c.CHARACTER_MAXIMUM_LENGTH
FROM information_schema.COLUMNS c
  JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
  AND c.DATA_TYPE IN (${MYSQL_CENSUS_TYPES.map((t) => `'${t}'`).join(', ')})
ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`,
    primaryKeys: `SELECT t.TABLE_SCHEMA, t.TABLE_NAME, MIN(k.COLUMN_NAME) FROM information_schema.TABLE_CONSTRAINTS t
  JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA
    AND k.CONSTRAINT_NAME = t.CONSTRAINT_NAME AND k.TABLE_SCHEMA = t.TABLE_SCHEMA AND k.TABLE_NAME = t.TABLE_NAME
WHERE t.CONSTRAINT_TYPE = 'PRIMARY KEY' AND t.TABLE_SCHEMA = DATABASE()
GROUP BY t.TABLE_SCHEMA, t.TABLE_NAME HAVING COUNT(*) = 1`,
    value: (column) => `CAST(${column} AS BINARY)`,
    param: (name) => `:${name}`,
    bind: (text) => Buffer.from(text, 'latin1'),
    binary: () => true,
  },
};

const DIALECTS: Record<Engine, Dialect> = { postgres: POSTGRES, mysql: MYSQL };

/** The dialect of an engine. */
export function dialectOf(engine: Engine): Dialect {
  return DIALECTS[engine];
}

/** Quotes an identifier for the engine (see {@link Dialect.quote}). */
export function quoteIdentifier(engine: Engine, name: string): string {
  return DIALECTS[engine].quote(name);
}
