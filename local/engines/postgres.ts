import type pg from 'pg';
import { loadDriver } from './driver.js';
import {
  PG_TYPE_QUERY,
  PgTypeCatalog,
  type PgTypeRow,
  pgErrorMessage,
  UPDATING_COMMANDS,
} from './pg-types.js';
import {
  type BoundValue,
  type Database,
  type EngineResult,
  type EngineTransaction,
  SqlError,
} from './types.js';
import { isSqlState, redact } from './url.js';

/** A PostgreSQL server reached by URL. */
export interface PostgresEngineOptions {
  readonly url: string;
  /** Pool size: one connection per open transaction plus autocommit statements. @default 10 */
  readonly maxConnections?: number;
}

// Values come back as PostgreSQL's text output and are converted by the catalog, as for PGlite.
const RAW_TEXT: pg.CustomTypesConfig = { getTypeParser: () => (value: string) => value };

/**
 * Connects to PostgreSQL through a pool: autocommit statements use any connection, each transaction
 * holds one until it ends.
 * @throws the connection error when the server cannot be reached.
 */
export async function createPostgresEngine(options: PostgresEngineOptions): Promise<Database> {
  const { Pool } = await loadDriver('pg', 'PostgreSQL', async () => (await import('pg')).default);
  const pool = new Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    // The Data API shows timestamptz in UTC.
    options: '-c TimeZone=UTC',
  });
  // An idle client that loses its server must not crash the process; the next query reports it.
  pool.on('error', () => {});
  let catalog = await loadCatalog(pool);

  const run = async (
    client: pg.Pool | pg.PoolClient,
    sql: string,
    params: readonly BoundValue[],
  ): Promise<EngineResult> => {
    let result: pg.QueryArrayResult<unknown[]>;
    try {
      result = await client.query<unknown[]>({
        text: sql,
        values: params.map((p) =>
          p instanceof Uint8Array ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p,
        ),
        rowMode: 'array',
        types: RAW_TEXT,
      });
    } catch (error) {
      throw toSqlError(error);
    }
    const fields = result.fields ?? [];
    if (!catalog.knows(fields.map((f) => f.dataTypeID))) catalog = await loadCatalog(pool);
    const types = catalog;
    return {
      hasResultSet: fields.length > 0,
      columns: fields.map((f) => types.column(f.name, f.dataTypeID)),
      rows: result.rows.map((row) =>
        row.map((v, i) => types.cell(v as string | null, fields[i]?.dataTypeID ?? 0)),
      ),
      updated: UPDATING_COMMANDS.has(result.command) ? (result.rowCount ?? 0) : 0,
    };
  };

  return {
    dialect: 'postgres',
    description: `PostgreSQL at ${redact(options.url)}`,

    query: (sql, params) => run(pool, sql, params),

    async begin(): Promise<EngineTransaction> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
      } catch (error) {
        client.release(error as Error);
        throw toSqlError(error);
      }
      const end = async (statement: 'COMMIT' | 'ROLLBACK'): Promise<void> => {
        try {
          await client.query(statement);
          client.release();
        } catch (error) {
          client.release(error as Error);
          throw toSqlError(error);
        }
      };
      return {
        query: (sql, params) => run(client, sql, params),
        commit: () => end('COMMIT'),
        rollback: () => end('ROLLBACK'),
      };
    },

    async close() {
      await pool.end();
    },
  };
}

async function loadCatalog(pool: pg.Pool): Promise<PgTypeCatalog> {
  const result = await pool.query<PgTypeRow>(PG_TYPE_QUERY);
  return new PgTypeCatalog(result.rows);
}

function toSqlError(error: unknown): unknown {
  if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') {
    const e = error as Error & { code: string; position?: string };
    // Node's own errors (ECONNREFUSED) also carry a code; only SQLSTATEs are five characters.
    if (isSqlState(e.code)) return new SqlError(pgErrorMessage(e), e.code, { cause: error });
  }
  return error;
}
