import { PGlite } from '@electric-sql/pglite';
import { Mutex } from './mutex.js';
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
import { isSqlState } from './url.js';

/** Where PGlite keeps its files. */
export interface PgliteEngineOptions {
  /** A directory to persist the database in; in memory when left out. */
  readonly dataDir?: string;
}

/** The PGlite engine, with the embedded database exposed for seeding and inspection. */
export interface PgliteEngine extends Database {
  readonly db: PGlite;
}

/**
 * Starts an embedded PostgreSQL (PGlite). PGlite has a single connection, so a transaction holds the
 * whole engine until it ends: statements outside it wait their turn rather than run inside it.
 */
export async function createPgliteEngine(options: PgliteEngineOptions = {}): Promise<PgliteEngine> {
  const db = await PGlite.create(options.dataDir ? { dataDir: options.dataDir } : {});
  // The Data API shows timestamptz in UTC; PGlite's one session keeps this setting for good.
  await db.exec("SET TIME ZONE 'UTC'");
  const lock = new Mutex();
  let catalog = await loadCatalog(db);

  const run = async (sql: string, params: readonly BoundValue[]): Promise<EngineResult> => {
    let result: Awaited<ReturnType<typeof db.query<unknown[]>>>;
    try {
      result = await db.query<unknown[]>(sql, [...params], { rowMode: 'array', parsers: catalog.parsers });
    } catch (error) {
      throw toSqlError(error);
    }
    const oids = result.fields.map((f) => f.dataTypeID);
    if (!catalog.types.knows(oids)) catalog = await loadCatalog(db);
    const types = catalog.types;
    return {
      hasResultSet: result.fields.length > 0,
      columns: result.fields.map((f) => types.column(f.name, f.dataTypeID)),
      rows: result.rows.map((row) =>
        row.map((value, i) => types.cell(value as string | null, result.fields[i]?.dataTypeID ?? 0)),
      ),
      updated: UPDATING_COMMANDS.has(result.command ?? '') ? (result.affectedRows ?? 0) : 0,
    };
  };

  return {
    db,
    dialect: 'postgres',
    description: options.dataDir ? `PGlite (${options.dataDir})` : 'PGlite (in memory)',

    async query(sql, params) {
      const release = await lock.lock();
      try {
        return await run(sql, params);
      } finally {
        release();
      }
    },

    async begin(): Promise<EngineTransaction> {
      const release = await lock.lock();
      try {
        await db.exec('BEGIN');
      } catch (error) {
        release();
        throw toSqlError(error);
      }
      const end = async (statement: 'COMMIT' | 'ROLLBACK'): Promise<void> => {
        try {
          await db.exec(statement);
        } catch (error) {
          throw toSqlError(error);
        } finally {
          release();
        }
      };
      return { query: run, commit: () => end('COMMIT'), rollback: () => end('ROLLBACK') };
    },

    async close() {
      await db.close();
    },
  };
}

interface LoadedCatalog {
  readonly types: PgTypeCatalog;
  /** Identity parsers for every type: values arrive as PostgreSQL's text, converted by the catalog. */
  readonly parsers: Record<number, (value: string) => string>;
}

async function loadCatalog(db: PGlite): Promise<LoadedCatalog> {
  const result = await db.query<PgTypeRow>(PG_TYPE_QUERY);
  const parsers: Record<number, (value: string) => string> = {};
  for (const row of result.rows) parsers[row.oid] = (value) => value;
  return { types: new PgTypeCatalog(result.rows), parsers };
}

function toSqlError(error: unknown): unknown {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && isSqlState(code)) {
    return new SqlError(pgErrorMessage(error as Error & { code: string }), code, { cause: error });
  }
  return error;
}
