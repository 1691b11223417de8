import pg from 'pg';
import type { SqlResult, SqlRunner, SqlValue } from '../lambda/index.js';
import { bindNamed } from './rds-data/sql-params.js';

const UPDATING = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/** A SqlRunner over one PostgreSQL connection, with what measuring it needs. */
export interface DirectPostgresRunner extends SqlRunner {
  /** The connection's server process, whose CPU time /proc can tell. */
  readonly backendPid: number;
  /** Statements sent so far. */
  statements(): number;
  close(): Promise<void>;
}

/**
 * The statements rekey sends through the Data API, with their `:name` parameters turned into `$n`
 * placeholders and run on one `pg` connection: no HTTP, JSON or SDK in between. For the benchmark's
 * direct-SQL limit, and for tests on a real server where the Data API would only cost time. Bigint
 * comes back as a number, as the Data API's longValue carries it; bytea as a Buffer.
 * @throws the connection error when the server cannot be reached.
 */
export async function directPostgresRunner(url: string): Promise<DirectPostgresRunner> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  client.setTypeParser(20, (v: string) => Number(v));
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
  let statements = 0;
  let open: string | undefined;
  const run = async (sql: string, params: Readonly<Record<string, SqlValue>> = {}): Promise<SqlResult> => {
    statements++;
    const { sql: text, values } = bindNamed(sql, 'postgres', params);
    const result = await client.query<SqlValue[]>({ text, values, rowMode: 'array' });
    return { rows: result.rows, updated: UPDATING.has(result.command) ? (result.rowCount ?? 0) : 0 };
  };
  return {
    dialect: 'postgres',
    backendPid: pid,
    statements: () => statements,
    execute: (sql, params) => run(sql, params),
    async begin() {
      if (open) throw new Error('a direct runner holds one transaction at a time');
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
