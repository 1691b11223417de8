// Black-box: the four steps driven as the service (or a tool replaying events) would, through the API
// the steps have always had, and only the outcome checked: the version is not promoted. Issue 10 found
// each of these promoted (cases 1, 3, 7, 8).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryLog } from '../../lambda/log.js';
import type { SqlRunner } from '../../lambda/ports.js';
import { ROTATION_STEPS, type RotationStep } from '../../lambda/rotation-event.js';
import { runStep } from '../../lambda/steps.js';
import { fakeClock } from '../support/fake-clock.js';
import { RK1_SECRET_A, RK1_SECRET_B, rk1Config, SECRET_ARN, seedRk1 } from '../support/fixtures.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { pgliteRunner } from '../support/pglite-runner.js';

const TOKEN = '11111111-2222-4333-8444-555555555555';
const wrap = (db: SqlRunner, execute: SqlRunner['execute']): SqlRunner => ({
  ...db,
  dialect: db.dialect,
  execute,
  begin: () => db.begin(),
  commit: (t) => db.commit(t),
  rollback: (t) => db.rollback(t),
});

async function rotate(
  options: { db?: (db: SqlRunner) => SqlRunner; steps?: readonly RotationStep[]; previous?: boolean } = {},
) {
  const secrets = new MemorySecrets(SECRET_ARN);
  const clock = fakeClock();
  secrets.now = clock.now;
  const raw = await pgliteRunner();
  const config = rk1Config();
  await seedRk1(raw, config, RK1_SECRET_A, 6);
  if (options.previous) secrets.add(RK1_SECRET_B, ['AWSCURRENT']);
  secrets.add(RK1_SECRET_A, ['AWSCURRENT']); // just written: B (if any) is AWSPREVIOUS from now
  secrets.add(undefined, ['AWSPENDING'], TOKEN);
  const db = options.db ? options.db(raw) : raw;
  for (const step of options.steps ?? ROTATION_STEPS) {
    try {
      await runStep(
        { Step: step, SecretId: SECRET_ARN, ClientRequestToken: TOKEN },
        { secrets, db, clock, log: memoryLog(), config, deadline: clock.now() + 900_000 },
      );
    } catch {
      // The service goes on to the next attempt; only the outcome matters here.
    }
  }
  return secrets.stagesOf(TOKEN);
}

describe('a rotation that must not be promoted', () => {
  it('a rotation right after a promotion is not promoted (readers may hold the key it unstages)', async () => {
    assert.deepEqual(await rotate({ previous: true }), ['AWSPENDING']);
  });
  it('a rotation whose pages read as empty is not promoted', async () => {
    const blind = (db: SqlRunner) =>
      wrap(db, async (sql, p, o) => {
        const r = await db.execute(sql, p, o);
        return / AS i, /.test(sql) ? { ...r, rows: [] } : r;
      });
    assert.notDeepEqual(await rotate({ db: blind }), ['AWSCURRENT']);
  });
  it('a rotation whose writes miss every row is not promoted', async () => {
    const missing = (db: SqlRunner) =>
      wrap(db, (sql, p, o) => db.execute(sql.startsWith('UPDATE') ? `${sql} AND false` : sql, p, o));
    assert.notDeepEqual(await rotate({ db: missing }), ['AWSCURRENT']);
  });
  it('a finishSecret before testSecret passed does not promote', async () => {
    assert.deepEqual(await rotate({ steps: ['createSecret', 'setSecret', 'finishSecret'] }), ['AWSPENDING']);
  });
});
