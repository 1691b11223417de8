import pg from 'pg';

/** The database the benchmark runs in unless `--pg-url` names another. */
export const BENCH_DATABASE = 'rekey_bench';

/**
 * Its own database, not the tests' `test`: the real-server suites' testSecret takes a census of every
 * text column of their database, and the benchmark's 10M-row template there slowed the chaos suite's
 * kill test from about 25 s to 111-289 s.
 */
export const DEFAULT_BENCH_PG_URL = `postgres://postgres@127.0.0.1:5432/${BENCH_DATABASE}`;

/** PostgreSQL's SQLSTATE for a database that does not exist (invalid_catalog_name). */
const NO_SUCH_DATABASE = '3D000';

/**
 * Makes sure the database `url` names exists, creating it when it is the benchmark's own
 * (`creatable`, `rekey_bench` but for tests) and missing; any other database must exist already: the
 * benchmark creates no database it was pointed at by name.
 * @throws the driver's error, or an Error naming the database and how to create it.
 */
export async function ensureBenchDatabase(
  url: string,
  say: (line: string) => void,
  creatable = BENCH_DATABASE,
): Promise<void> {
  const name = databaseOf(url);
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    return;
  } catch (error) {
    if ((error as { code?: unknown }).code !== NO_SUCH_DATABASE) throw error;
    if (name !== creatable)
      throw new Error(
        `--pg-url names database '${name}', which does not exist on that server: create it (createdb ${name}) or leave --pg-url out to use '${creatable}'`,
        { cause: error },
      );
  } finally {
    await probe.end().catch(() => undefined);
  }
  say(`creating database ${creatable} for the benchmark's tables`);
  const admin = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await admin.connect();
  try {
    // A plain lower-case name: the constant or a test's scratch name, never user input.
    await admin.query(`CREATE DATABASE ${creatable}`);
  } catch (error) {
    // Another run created it between the probe and here.
    if ((error as { code?: unknown }).code !== '42P04') throw error;
  } finally {
    await admin.end();
  }
}

function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/** The same server's URL with another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
