import pg from 'pg';

/** Any fixed number: every benchmark run on the same server takes the same advisory lock. */
const LOCK_ID = 0x72656b79; // 'reky'

/**
 * Holds a PostgreSQL advisory lock for the run, so two benchmark runs on one server (two people, or
 * two helpers, on one machine) wait for each other instead of dropping each other's tables mid-run.
 * @returns a release function; the lock also goes when the process dies and its connection closes.
 * @throws the driver's error.
 */
export async function holdBenchLock(url: string, say: (line: string) => void): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LOCK_ID]);
  if (!got.rows[0]?.ok) {
    say('another benchmark run holds the database: waiting for it to finish');
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_ID]);
  }
  return async () => {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_ID]).catch(() => undefined);
    await client.end();
  };
}
