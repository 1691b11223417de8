import mysql from 'mysql2/promise';
import type { SqlResult, SqlRunner, SqlValue } from '../../lambda/ports.js';
import type { CellValue, Database } from '../../local/index.js';
import { bindNamed } from '../../local/rds-data/sql-params.js';

/**
 * The runner with the catalog lookups (information_schema) answered from memory after the first: the
 * tables' columns do not change during a matrix, and on an embedded engine those lookups are most of a
 * step's SQL time. Every call still goes through (and is counted by) whatever wraps this runner.
 */
export function cachingCatalog(inner: SqlRunner): SqlRunner {
  const cache = new Map<string, Promise<SqlResult>>();
  return {
    dialect: inner.dialect,
    execute(sql, params, tx) {
      if (!sql.includes('information_schema')) return inner.execute(sql, params, tx);
      const key = `${sql}\u0000${JSON.stringify(params ?? {})}`;
      let hit = cache.get(key);
      if (!hit) {
        hit = inner.execute(sql, params, tx);
        cache.set(key, hit);
      }
      return hit;
    },
    begin: () => inner.begin(),
    commit: (tx) => inner.commit(tx),
    rollback: (tx) => inner.rollback(tx),
  };
}

/**
 * A SqlRunner straight over a local engine (PGlite, PostgreSQL or MySQL behind the local Data API),
 * for seeding and checking without going through, and being counted by, the Data API.
 */
export function engineRunner(engine: Database): SqlRunner {
  const run = async (sql: string, params: Readonly<Record<string, SqlValue>> = {}): Promise<SqlResult> => {
    const { sql: text, values } = bindNamed(sql, engine.dialect, params);
    const result = await engine.query(text, values);
    return {
      rows: result.rows.map((r) => r.map(toSqlValue)),
      updated: result.updated,
    };
  };
  return {
    dialect: engine.dialect,
    execute: (sql, params) => run(sql, params),
    begin: () => Promise.reject(new Error('engineRunner runs statements on their own')),
    commit: () => Promise.resolve(),
    rollback: () => Promise.resolve(),
  };
}

function toSqlValue(v: CellValue): SqlValue {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'bigint') return Number(v);
  return JSON.stringify(v);
}

/**
 * A SqlRunner over one direct MySQL/MariaDB connection (an app's own connection in the chaos suite).
 * @throws the connection error when the server cannot be reached.
 */
export async function directMysqlRunner(url: string): Promise<SqlRunner & { close(): Promise<void> }> {
  const conn = await mysql.createConnection({ uri: url, supportBigNumbers: true, bigNumberStrings: false });
  const run = async (sql: string, params: Readonly<Record<string, SqlValue>> = {}): Promise<SqlResult> => {
    const { sql: text, values } = bindNamed(sql, 'mysql', params);
    const [result] = await conn.query({ sql: text, values, rowsAsArray: true });
    if (Array.isArray(result)) return { rows: result as unknown as SqlValue[][], updated: 0 };
    return { rows: [], updated: (result as { affectedRows?: number }).affectedRows ?? 0 };
  };
  return {
    dialect: 'mysql',
    execute: (sql, params) => run(sql, params),
    begin: () => Promise.reject(new Error('directMysqlRunner runs statements on their own')),
    commit: () => Promise.resolve(),
    rollback: () => Promise.resolve(),
    close: () => conn.end(),
  };
}
