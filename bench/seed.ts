import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DataKey } from '../lambda/index.js';
import { rk1 } from '../lambda/index.js';
import type { Database } from '../local/index.js';

/** The schema the benchmark owns; nothing else in the database is touched. */
export const BENCH_SCHEMA = 'rekey_bench';
/** The table rotations run on: a copy of the first N template rows. */
export const BENCH_TABLE = 'secrets';
/** The tables seeding keeps: every run copies its rows from them (rotation configs leave them out). */
export const TEMPLATE_TABLES = ['template', 'template_pool'] as const;
/** The table's name for messages, and what rk1's AAD binds the values to (table.column). */
export const BENCH_WHERE = { table: BENCH_TABLE, column: 'payload' } as const;

/** The key rows are seeded under: a fixed benchmark key, so a seeded template is reused across runs. */
export const SEED_SECRET = JSON.stringify({ encryptionKey: Buffer.alloc(32, 7).toString('base64') });
const SEED_KEY: DataKey = rk1.deriveKey(Buffer.alloc(32, 7).toString('base64'));
/** Bump when the row shape changes, so an old template is seeded again. */
const SEED_VERSION = 2;
const BATCH = 10_000;
/**
 * Distinct values encrypted in Node; row i holds value ((i - 1) mod POOL) + 1, copied server-side. rk1's
 * AAD binds a value to its table and column, not its row, so a value is as valid in any row, and the
 * first POOL rows are exactly what row-by-row seeding gave.
 */
const POOL = 100_000;

/** A Redash-style data source's options: about 110 bytes of JSON, a 190-character rk1 value. */
export function samplePlaintext(i: number): string {
  const secret = ((i * 2654435761) >>> 0).toString(16).padStart(8, '0');
  return `{"host":"db${i % 5000}.internal.example","port":5432,"user":"app_${i % 997}","password":"${secret}${secret}","ssl":true}`;
}

/** How the template came to be. */
export interface SeedReport {
  /** Whether rows were written by this run (false: an earlier run's template was reused). */
  readonly seeded: boolean;
  readonly rows: number;
  readonly ms: number;
  readonly rowsPerSec?: number;
  /** Rows an earlier run had seeded, when this run only added the rest. */
  readonly extendedFrom?: number;
}

/**
 * Makes sure `rekey_bench.template` holds at least `rows` rk1 rows under the seed key, ids 1..rows.
 * Encrypts a pool of distinct values in Node (10,000-row `INSERT ... SELECT FROM unnest(...)`) and
 * copies them to every row with one server-side `generate_series` statement, so ten million rows cost
 * one statement rather than a thousand round trips of rows encrypted one by one. Keeps a template that
 * an earlier run seeded, adding only the rows it lacks.
 * @throws the driver's error.
 */
export async function ensureTemplate(url: string, rows: number): Promise<SeedReport> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const started = performance.now();
    const schema = BENCH_SCHEMA;
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.template_meta (version int, kid text, rows bigint)`,
    );
    const meta = await client.query<{ version: number; kid: string; rows: string }>(
      `SELECT version, kid, rows FROM ${schema}.template_meta`,
    );
    const have = meta.rows[0];
    const usable = have && have.version === SEED_VERSION && have.kid === SEED_KEY.kid;
    if (usable && Number(have.rows) >= rows) {
      return { seeded: false, rows: Number(have.rows), ms: performance.now() - started };
    }
    const from = usable ? Number(have.rows) : 0;
    if (from === 0) {
      await client.query(`DROP TABLE IF EXISTS ${schema}.template`);
      await client.query(`DROP TABLE IF EXISTS ${schema}.template_pool`);
      await client.query(`CREATE TABLE ${schema}.template_pool (n int PRIMARY KEY, payload text)`);
      for (let start = 1; start <= POOL; start += BATCH) {
        const ns: number[] = [];
        const values: string[] = [];
        for (let i = start; i < start + BATCH; i++) {
          ns.push(i);
          values.push(rk1.encrypt(Buffer.from(samplePlaintext(i)), SEED_KEY, BENCH_WHERE));
        }
        await client.query(
          `INSERT INTO ${schema}.template_pool (n, payload) SELECT * FROM unnest($1::int[], $2::text[])`,
          [ns, values],
        );
      }
      await client.query(`CREATE TABLE ${schema}.template (id bigint NOT NULL, payload text)`);
    }
    await client.query(
      `INSERT INTO ${schema}.template (id, payload)
       SELECT g, p.payload FROM generate_series($1::bigint, $2::bigint) g
       JOIN ${schema}.template_pool p ON p.n = ((g - 1) % ${POOL}) + 1`,
      [from + 1, rows],
    );
    // After the rows, not before: one index build instead of ten million index inserts.
    if (from === 0) await client.query(`ALTER TABLE ${schema}.template ADD PRIMARY KEY (id)`);
    await client.query(`DELETE FROM ${schema}.template_meta`);
    await client.query(`INSERT INTO ${schema}.template_meta VALUES ($1, $2, $3)`, [
      SEED_VERSION,
      SEED_KEY.kid,
      rows,
    ]);
    const ms = performance.now() - started;
    return {
      seeded: true,
      rows,
      ms,
      rowsPerSec: Math.round((rows - from) / (ms / 1000)),
      ...(from > 0 ? { extendedFrom: from } : {}),
    };
  } finally {
    await client.end();
  }
}

/**
 * Replaces `rekey_bench.secrets` with the first `rows` template rows (all under the seed key), with
 * its primary key and fresh statistics, so every run starts from the same table with no dead rows.
 * @returns how long the copy took.
 */
export async function restoreTable(url: string, rows: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const started = performance.now();
  try {
    const t = `${BENCH_SCHEMA}.${BENCH_TABLE}`;
    await client.query(`DROP TABLE IF EXISTS ${t}`);
    await client.query(`CREATE TABLE ${t} (id bigint NOT NULL, payload text)`);
    await client.query(
      `INSERT INTO ${t} SELECT id, payload FROM ${BENCH_SCHEMA}.template WHERE id <= $1 ORDER BY id`,
      [rows],
    );
    await client.query(`ALTER TABLE ${t} ADD PRIMARY KEY (id)`);
    await client.query(`VACUUM ANALYZE ${t}`);
    return performance.now() - started;
  } finally {
    await client.end();
  }
}

/**
 * Seeds the embedded engine's `rekey_bench.secrets` with `rows` rk1 rows under the seed key, through
 * the engine directly (1,000-row multi-row INSERTs), not through the Data API.
 * @returns how long it took.
 */
export async function seedEngine(engine: Database, rows: number): Promise<number> {
  const started = performance.now();
  const t = `${BENCH_SCHEMA}.${BENCH_TABLE}`;
  await engine.query(`CREATE SCHEMA IF NOT EXISTS ${BENCH_SCHEMA}`, []);
  await engine.query(`DROP TABLE IF EXISTS ${t}`, []);
  await engine.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, payload text)`, []);
  for (let start = 1; start <= rows; start += 1000) {
    const values: (string | number)[] = [];
    const tuples: string[] = [];
    for (let i = start; i < Math.min(start + 1000, rows + 1); i++) {
      values.push(i, rk1.encrypt(Buffer.from(samplePlaintext(i)), SEED_KEY, BENCH_WHERE));
      tuples.push(`($${values.length - 1}::bigint, $${values.length})`);
    }
    await engine.query(`INSERT INTO ${t} (id, payload) VALUES ${tuples.join(', ')}`, values);
  }
  await engine.query(`ANALYZE ${t}`, []);
  return performance.now() - started;
}

/** A fresh random rk1 data key as a secret value's field (for the baseline's target). */
export function randomSecret(): string {
  return JSON.stringify({ encryptionKey: randomBytes(32).toString('base64') });
}
