import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codecFor } from '../../lambda/codecs/index.js';
import type { RekeyConfig } from '../../lambda/config.js';
import { silentLog } from '../../lambda/log.js';
import { ROTATION_STEPS } from '../../lambda/rotation-event.js';
import { runStep } from '../../lambda/steps.js';
import { CrashSwitch, InjectedCrash } from '../support/crash.js';
import { fakeClock } from '../support/fake-clock.js';
import { keyOf, RK1_SECRET_A, rk1Config, SECRET_ARN, seedRk1 } from '../support/fixtures.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { pgliteRunner } from '../support/pglite-runner.js';

const TOKEN = '99999999-2222-4333-8444-555555555555';
const CONFIG: RekeyConfig = rk1Config({ paging: { maxRows: 4, maxBytes: 512 * 1024 } });
const ROWS = 6;

type Runner = Awaited<ReturnType<typeof pgliteRunner>>;

async function freshWorld(db: Runner) {
  for (const t of ['data_sources', 'tokens', 'alerts']) await db.execute(`DROP TABLE IF EXISTS ${t}`);
  await seedRk1(db, CONFIG, RK1_SECRET_A, ROWS);
  const secrets = new MemorySecrets(SECRET_ARN);
  secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
  secrets.add(undefined, ['AWSPENDING'], TOKEN);
  return secrets;
}

/** Runs the four steps as the service does; the switch decides where the "process" dies. */
async function rotate(db: Runner, secrets: MemorySecrets, crash: CrashSwitch): Promise<void> {
  const clock = fakeClock();
  const deps = {
    secrets: crash.secrets(secrets),
    db: crash.sql(db),
    clock,
    log: silentLog,
    config: CONFIG,
    deadline: clock.now() + 15 * 60_000,
  };
  for (const step of ROTATION_STEPS)
    await runStep({ Step: step, SecretId: SECRET_ARN, ClientRequestToken: TOKEN }, deps);
}

/** The invariant: every stored value decrypts under a version staged CURRENT, PENDING or PREVIOUS. */
async function assertEveryFieldReadable(db: Runner, secrets: MemorySecrets, point: number): Promise<void> {
  const codec = codecFor(CONFIG.codec);
  const keys = ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS']
    .map((stage) => secrets.valueAt(stage))
    .filter((v): v is string => v !== undefined)
    .map((v) => keyOf(v, CONFIG));
  for (const t of CONFIG.storedFields) {
    for (const c of t.columns) {
      const r = await db.execute(`SELECT ${c} FROM ${t.table} WHERE ${c} IS NOT NULL`);
      for (const [v] of r.rows) {
        const found = codec.classify(String(v), keys, { table: t.table, column: c });
        assert.equal(
          found.kind,
          'key',
          `crash point ${point}: ${t.table}.${c} holds a value no staged version reads`,
        );
      }
    }
  }
}

describe('a rotation interrupted anywhere', () => {
  it('keeps every field readable at every interruption point and finishes exactly once when resumed', async () => {
    const db = await pgliteRunner();
    const probe = new CrashSwitch(0);
    await rotate(db, await freshWorld(db), probe);
    const points = probe.calls;
    assert.ok(points > 60, `expected many interruption points, got ${points}`);
    for (let at = 1; at <= points; at++) {
      const secrets = await freshWorld(db);
      await assert.rejects(rotate(db, secrets, new CrashSwitch(at)), InjectedCrash);
      await assertEveryFieldReadable(db, secrets, at);
      const promotions = () =>
        secrets.versions.filter((v) => v.stages.includes('AWSCURRENT')).map((v) => v.versionId);
      await rotate(db, secrets, new CrashSwitch(0)); // the service's retry: a fresh invocation, same token
      assert.deepEqual(promotions(), [TOKEN], `crash point ${at}: the token is AWSCURRENT`);
      await assertEveryFieldReadable(db, secrets, at);
      const pendingKid = keyOf(secrets.valueAt('AWSCURRENT') as string, CONFIG).kid;
      for (const t of CONFIG.storedFields) {
        for (const c of t.columns) {
          const r = await db.execute(`SELECT count(*) FROM ${t.table} WHERE ${c} NOT LIKE :p`, {
            p: `rk1:${pendingKid}:%`,
          });
          assert.equal(
            Number(r.rows[0]?.[0]),
            0,
            `crash point ${at}: ${t.table}.${c} fully under the new key`,
          );
        }
      }
    }
    console.log(`crash matrix: ${points} interruption points tried, items lost: 0`);
  });
});
