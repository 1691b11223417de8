import { after, describe, it } from 'node:test';
import { runCrashMatrix } from '../support/chaos-crash-matrix.js';
import { Hygiene } from '../support/chaos-hygiene.js';
import { pgliteRunner } from '../support/pglite-runner.js';

const hygiene = new Hygiene('crash matrix (embedded)');

describe('a rotation interrupted at every call, on embedded PostgreSQL', () => {
  after(() => hygiene.assertClean());

  it('keeps every field readable at every point, and finishes with every field under the new key, promoted once', async () => {
    const db = await pgliteRunner();
    const started = Date.now();
    const result = await runCrashMatrix(db, hygiene, { prefix: 'rekey_chaos_', label: 'embedded' });
    hygiene.report({ embeddedPoints: result.points, lost: 0 });
    console.log(
      `crash matrix (embedded): ${result.points} interruption points over ${result.calls} calls, ${result.fieldsChecked} fields checked, ${Date.now() - started} ms`,
    );
  });
});
