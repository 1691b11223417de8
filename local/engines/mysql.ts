import type mysql from 'mysql2/promise';
import { loadDriver } from './driver.js';
import type {
  BoundValue,
  CellValue,
  ColumnInfo,
  Database,
  EngineResult,
  EngineTransaction,
  ValueKind,
} from './types.js';
import { SqlError } from './types.js';
import { redact } from './url.js';

/** A MySQL or MariaDB server reached by URL. */
export interface MysqlEngineOptions {
  readonly url: string;
  /** Pool size. @default 10 */
  readonly maxConnections?: number;
}

type Pool = ReturnType<typeof mysql.createPool>;
type Connection = Awaited<ReturnType<Pool['getConnection']>>;
type FieldPacket = mysql.FieldPacket;

const BINARY_CHARSET = 63;
const FLAG_NOT_NULL = 1;
const FLAG_UNSIGNED = 32;
const FLAG_BINARY = 128;
const FLAG_AUTO_INCREMENT = 512;

/**
 * Connects to MySQL or MariaDB through a pool; each transaction holds one connection until it ends.
 * Values come back as the Data API returns them for MySQL: dates as strings, DECIMAL as strings,
 * TINYINT(1) and BIT(1) as booleans, binary columns as bytes.
 * @throws the connection error when the server cannot be reached.
 */
export async function createMysqlEngine(options: MysqlEngineOptions): Promise<Database> {
  const { createPool } = await loadDriver(
    'mysql2',
    'MySQL',
    async () => (await import('mysql2/promise')).default,
  );
  const pool = createPool({
    uri: options.url,
    connectionLimit: options.maxConnections ?? 10,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    multipleStatements: false,
    // JSON columns stay text, as the Data API returns them (MariaDB marks them only by extended format).
    typeCast: (field, next) =>
      field.type === 'JSON' || field.extendedFormat === 'json' ? field.string('utf8') : next(),
  });
  // TIMESTAMP columns are shown in the session time zone; the Data API shows UTC. The event hands over
  // the callback-style connection, whose queue runs this before anything else on that connection.
  pool.on('connection', (connection) => {
    (connection as unknown as { query(sql: string): unknown }).query("SET time_zone = '+00:00'");
  });
  await pool.query('SELECT 1');

  const run = async (
    on: Pool | Connection,
    sql: string,
    params: readonly BoundValue[],
  ): Promise<EngineResult> => {
    let rows: unknown;
    let fields: FieldPacket[] | undefined;
    try {
      [rows, fields] = await on.query({ sql, values: params.map(toDriverValue), rowsAsArray: true });
    } catch (error) {
      throw toSqlError(error);
    }
    if (!Array.isArray(rows) || !fields) {
      const header = rows as { affectedRows?: number; insertId?: number | string };
      const id = header.insertId === undefined ? 0 : BigInt(header.insertId);
      return {
        hasResultSet: false,
        columns: [],
        rows: [],
        updated: header.affectedRows ?? 0,
        ...(id > 0n ? { generatedId: Number.isSafeInteger(Number(id)) ? Number(id) : id } : {}),
      };
    }
    const columns = fields.map(describe);
    return {
      hasResultSet: true,
      columns,
      rows: (rows as unknown[][]).map((row) => row.map((v, i) => toCell(v, columns[i]))),
      updated: 0,
    };
  };

  return {
    dialect: 'mysql',
    description: `MySQL at ${redact(options.url)}`,

    query: (sql, params) => run(pool, sql, params),

    async begin(): Promise<EngineTransaction> {
      const connection = await pool.getConnection();
      try {
        await connection.query('START TRANSACTION');
      } catch (error) {
        connection.destroy();
        throw toSqlError(error);
      }
      const end = async (statement: 'COMMIT' | 'ROLLBACK'): Promise<void> => {
        try {
          await connection.query(statement);
          connection.release();
        } catch (error) {
          connection.destroy();
          throw toSqlError(error);
        }
      };
      return {
        query: (sql, params) => run(connection, sql, params),
        commit: () => end('COMMIT'),
        rollback: () => end('ROLLBACK'),
      };
    },

    async close() {
      await pool.end();
    },
  };
}

function toDriverValue(value: BoundValue): unknown {
  return value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value;
}

interface TypeShape {
  readonly typeName: string;
  readonly jdbcType: number;
  readonly kind: Exclude<ValueKind, 'array'>;
}

// JDBC codes as the MariaDB Connector/J (which the Data API runs on for MySQL) reports them.
function shape(field: FieldPacket): TypeShape {
  const binary = field.characterSet === BINARY_CHARSET;
  const length = field.columnLength ?? 0;
  switch (field.columnType) {
    case 0:
    case 246:
      return { typeName: 'DECIMAL', jdbcType: 3, kind: 'decimal' };
    case 1:
      return length === 1
        ? { typeName: 'TINYINT', jdbcType: -7, kind: 'boolean' }
        : { typeName: 'TINYINT', jdbcType: -6, kind: 'long' };
    case 2:
      return { typeName: 'SMALLINT', jdbcType: 5, kind: 'long' };
    case 3:
      return { typeName: 'INT', jdbcType: 4, kind: 'long' };
    case 4:
      return { typeName: 'FLOAT', jdbcType: 7, kind: 'double' };
    case 5:
      return { typeName: 'DOUBLE', jdbcType: 8, kind: 'double' };
    case 7:
      return { typeName: 'TIMESTAMP', jdbcType: 93, kind: 'string' };
    case 8:
      return { typeName: 'BIGINT', jdbcType: -5, kind: 'long' };
    case 9:
      return { typeName: 'MEDIUMINT', jdbcType: 4, kind: 'long' };
    case 10:
    case 14:
      return { typeName: 'DATE', jdbcType: 91, kind: 'string' };
    case 11:
      return { typeName: 'TIME', jdbcType: 92, kind: 'string' };
    case 12:
      return { typeName: 'DATETIME', jdbcType: 93, kind: 'string' };
    case 13:
      return { typeName: 'YEAR', jdbcType: 91, kind: 'long' };
    case 16:
      return length === 1
        ? { typeName: 'BIT', jdbcType: -7, kind: 'boolean' }
        : { typeName: 'BIT', jdbcType: -3, kind: 'blob' };
    case 245:
      return { typeName: 'JSON', jdbcType: -1, kind: 'string' };
    case 249:
    case 250:
    case 251:
    case 252:
      return binary
        ? { typeName: 'BLOB', jdbcType: -4, kind: 'blob' }
        : { typeName: 'TEXT', jdbcType: -1, kind: 'string' };
    case 15:
    case 253:
      return binary
        ? { typeName: 'VARBINARY', jdbcType: -3, kind: 'blob' }
        : { typeName: 'VARCHAR', jdbcType: 12, kind: 'string' };
    case 254:
      return binary
        ? { typeName: 'BINARY', jdbcType: -2, kind: 'blob' }
        : { typeName: 'CHAR', jdbcType: 1, kind: 'string' };
    case 255:
      return { typeName: 'GEOMETRY', jdbcType: -2, kind: 'blob' };
    default:
      return { typeName: 'NULL', jdbcType: 0, kind: 'string' };
  }
}

function describe(field: FieldPacket): ColumnInfo {
  const type = shape(field);
  const flags = typeof field.flags === 'number' ? field.flags : 0;
  const numeric = type.kind === 'long' || type.kind === 'double' || type.kind === 'decimal';
  return {
    name: field.orgName || field.name,
    label: field.name,
    typeName: type.typeName,
    jdbcType: type.jdbcType,
    kind: type.kind,
    arrayBaseColumnType: 0,
    schemaName: '',
    tableName: field.orgTable ?? '',
    isSigned: numeric && (flags & FLAG_UNSIGNED) === 0,
    isCaseSensitive: (flags & FLAG_BINARY) !== 0,
    isAutoIncrement: (flags & FLAG_AUTO_INCREMENT) !== 0,
    isCurrency: false,
    nullable: (flags & FLAG_NOT_NULL) !== 0 ? 0 : 1,
    precision: field.columnLength ?? 0,
    scale: field.decimals ?? 0,
  };
}

function toCell(value: unknown, column: ColumnInfo | undefined): CellValue {
  if (value === null || value === undefined) return null;
  const kind = column?.kind ?? 'string';
  if (kind === 'boolean') {
    if (Buffer.isBuffer(value)) return value.some((b) => b !== 0);
    return Number(value) !== 0;
  }
  if (kind === 'long' && typeof value === 'string') {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : BigInt(value);
  }
  if (Buffer.isBuffer(value)) {
    return kind === 'blob' ? new Uint8Array(value) : value.toString('utf8');
  }
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'bigint') return value;
  return JSON.stringify(value);
}

function toSqlError(error: unknown): unknown {
  const e = error as { sqlMessage?: unknown; sqlState?: unknown };
  if (error instanceof Error && typeof e.sqlMessage === 'string') {
    return new SqlError(e.sqlMessage, typeof e.sqlState === 'string' ? e.sqlState : undefined, {
      cause: error,
    });
  }
  return error;
}
