import { after, before, describe, it } from 'node:test';
import { directPostgresRunner } from '../../local/direct-postgres.js';
import { runCrashMatrix } from '../support/chaos-crash-matrix.js';
import { Hygiene } from '../support/chaos-hygiene.js';

const hygiene = new Hygiene('crash matrix (PostgreSQL)');
const url = process.env.REKEY_TEST_PG_URL;

describe('a rotation interrupted at every call, on a real PostgreSQL server', {
  skip: url ? false : 'REKEY_TEST_PG_URL is not set',
}, () => {
  let db: Awaited<ReturnType<typeof directPostgresRunner>>;
  before(async () => {
    db = await directPostgresRunner(url as string);
  });
  after(async () => {
    await db?.close();
    hygiene.assertClean();
  });

  it('keeps every field readable at every point, and finishes with every field under the new key, promoted once', async () => {
    const started = Date.now();
    const prefix = `rekey_chaos_${process.pid}_`;
    const result = await runCrashMatrix(db, hygiene, { prefix, label: 'postgres' });
    hygiene.report({ postgresPoints: result.points, lost: 0 });
    console.log(
      `crash matrix (postgres): ${result.points} interruption points over ${result.calls} calls, ${result.fieldsChecked} fields checked, ${Date.now() - started} ms`,
    );
  });
});
