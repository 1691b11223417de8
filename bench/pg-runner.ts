import pg from 'pg';
import type { SqlResult, SqlRunner, SqlValue } from '../lambda/ports.js';
import { scanSql, toPositional } from '../local/rds-data/sql-params.js';
import { processCpuMs } from './proc-cpu.js';

const UPDATING = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/** A SqlRunner over one direct PostgreSQL connection, counting the statements it sends. */
export interface DirectRunner extends SqlRunner {
  /** Statements sent so far. */
  readonly statements: () => number;
  /** CPU the connection's PostgreSQL backend has used so far, in ms (read from /proc). */
  readonly backendCpuMs: () => number;
  close(): Promise<void>;
}

/**
 * The direct-SQL limit's runner: the same `:name` statements rekey sends through the Data API, turned
 * into `$n` placeholders and run on one `pg` connection, with no HTTP or JSON in between. Values come
 * back as node-postgres parses them (bigint and numeric as strings, bytea as Buffer), which rekey's
 * TableSql reads the same way as the Data API's Fields.
 * @throws the connection error when the server cannot be reached.
 */
export async function directRunner(url: string): Promise<DirectRunner> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
  let statements = 0;
  let open: string | undefined;
  const run = async (sql: string, params: Readonly<Record<string, SqlValue>> = {}): Promise<SqlResult> => {
    statements++;
    const { sql: text, values } = toPositional(scanSql(sql, 'postgres'), 'postgres', (name) => {
      const value = params[name];
      if (value === undefined) throw new Error(`no value for parameter :${name}`);
      return value instanceof Uint8Array && !Buffer.isBuffer(value)
        ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        : value;
    });
    const result = await client.query<SqlValue[]>({ text, values, rowMode: 'array' });
    return { rows: result.rows, updated: UPDATING.has(result.command) ? (result.rowCount ?? 0) : 0 };
  };
  return {
    dialect: 'postgres',
    statements: () => statements,
    backendCpuMs: () => processCpuMs(pid),
    execute: (sql, params) => run(sql, params),
    async begin() {
      if (open) throw new Error('the direct runner holds one transaction at a time');
      await run('BEGIN');
      open = `tx-${statements}`;
      return open;
    },
    async commit() {
      await run('COMMIT');
      open = undefined;
    },
    async rollback() {
      await run('ROLLBACK');
      open = undefined;
    },
    close: () => client.end(),
  };
}
