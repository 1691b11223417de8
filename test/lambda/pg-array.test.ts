import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pgArrayLiteral } from '../../lambda/sql.js';
import { pgliteRunner } from '../support/pglite-runner.js';

describe('PostgreSQL array literals for the compare-and-swap', () => {
  it('leaves ciphertexts, numbers and uuids bare', () => {
    assert.equal(
      pgArrayLiteral(['rk1:AbC_-1:xyz', 'gAAAA+/b==', 42, '00000000-0000-4000-8000-000000000001']),
      '{rk1:AbC_-1:xyz,gAAAA+/b==,42,00000000-0000-4000-8000-000000000001}',
    );
  });

  it('reads back exactly what went in, whatever the text ids hold', async () => {
    const db = await pgliteRunner();
    const values = [
      'a,b',
      'x"y',
      'back\\slash',
      '{braces}',
      ' spaced ',
      '',
      'NULL',
      'null',
      'café ☕',
      'tok-0001',
    ];
    const result = await db.execute('SELECT unnest(CAST(:values AS text[]))', {
      values: pgArrayLiteral(values),
    });
    assert.deepEqual(
      result.rows.map((r) => r[0]),
      values,
    );
  });
});
