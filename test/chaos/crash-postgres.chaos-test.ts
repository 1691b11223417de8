import { after, before, describe, it } from 'node:test';
import { type DirectPostgresRunner, directPostgresRunner } from '../../local/direct-postgres.js';
import { runCrashMatrix } from '../support/chaos-crash-matrix.js';
import { Hygiene } from '../support/chaos-hygiene.js';

const hygiene = new Hygiene('crash matrix (PostgreSQL)');
const url = process.env.REKEY_TEST_PG_URL;

describe('a rotation interrupted at every call, on a real PostgreSQL server', {
  skip: url ? false : 'REKEY_TEST_PG_URL is not set',
}, () => {
  // A database of its own: testSecret's census reads every table it can see, so the other suites'
  // tables on the shared server would change the number of calls between the probe and the crashes.
  const name = `rekey_crash_${process.pid}`;
  let admin: DirectPostgresRunner;
  let db: DirectPostgresRunner;
  before(async () => {
    admin = await directPostgresRunner(url as string);
    await admin.execute(`DROP DATABASE IF EXISTS ${name}`);
    await admin.execute(`CREATE DATABASE ${name}`);
    const own = new URL(url as string);
    own.pathname = `/${name}`;
    db = await directPostgresRunner(own.href);
  });
  after(async () => {
    await db?.close();
    await admin?.execute(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin?.close();
    hygiene.assertClean();
  });

  it('keeps every field readable at every point, and finishes with every field under the new key, promoted once', async () => {
    const started = Date.now();
    const result = await runCrashMatrix(db, hygiene, { prefix: 'rekey_chaos_', label: 'postgres' });
    hygiene.report({ postgresPoints: result.points, lost: 0 });
    console.log(
      `crash matrix (postgres): ${result.points} interruption points over ${result.calls} calls, ${result.fieldsChecked} fields checked, ${Date.now() - started} ms`,
    );
  });
});
