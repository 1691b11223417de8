import { PGlite } from '@electric-sql/pglite';
import type { SqlResult, SqlRunner, SqlValue } from '../../lambda/ports.js';

/**
 * A SQL runner straight over an embedded PostgreSQL (PGlite), for tests that exercise the steps on a
 * real engine without HTTP in between. `:name` parameters become `$n` outside string literals,
 * quoted identifiers and `::` casts.
 */
export async function pgliteRunner(): Promise<SqlRunner & { readonly pg: PGlite; calls: number }> {
  // Starting PGlite takes seconds; one instance serves a whole test file, reset between tests.
  shared ??= PGlite.create();
  const pg = await shared;
  await pg.exec('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  let tx = 0;
  const runner = {
    pg,
    calls: 0,
    dialect: 'postgres' as const,
    async execute(sql: string, params: Readonly<Record<string, SqlValue>> = {}): Promise<SqlResult> {
      runner.calls++;
      const { text, values } = positional(sql, params);
      const result = await pg.query<Record<string, unknown>>(text, values, { rowMode: 'array' });
      return {
        rows: (result.rows as unknown as unknown[][]).map((r) => r.map(toSqlValue)),
        updated: result.affectedRows ?? 0,
      };
    },
    async begin(): Promise<string> {
      await pg.query('BEGIN');
      return String(++tx);
    },
    async commit(): Promise<void> {
      await pg.query('COMMIT');
    },
    async rollback(): Promise<void> {
      await pg.query('ROLLBACK');
    },
  };
  return runner;
}

let shared: Promise<PGlite> | undefined;

function positional(
  sql: string,
  params: Readonly<Record<string, SqlValue>>,
): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const index = new Map<string, number>();
  const text = sql.replace(
    /'(?:[^']|'')*'|"(?:[^"]|"")*"|::[A-Za-z_]\w*|:([A-Za-z_]\w*)/g,
    (match, name?: string) => {
      if (!name) return match;
      if (!(name in params)) throw new Error(`missing parameter :${name}`);
      let i = index.get(name);
      if (i === undefined) {
        values.push(params[name]);
        i = values.length;
        index.set(name, i);
      }
      return `$${i}`;
    },
  );
  return { text, values };
}

function toSqlValue(v: unknown): SqlValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v instanceof Uint8Array)
    return v;
  if (typeof v === 'bigint') return Number(v);
  return String(v);
}
