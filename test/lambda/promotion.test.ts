import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codecFor } from '../../lambda/codecs/index.js';
import type { RekeyConfig } from '../../lambda/config.js';
import { memoryLog } from '../../lambda/log.js';
import type { SqlRunner } from '../../lambda/ports.js';
import type { RotationStep } from '../../lambda/rotation-event.js';
import { MARK_TAGS, promotedTag } from '../../lambda/rotation-marks.js';
import { runStep, type StepDeps } from '../../lambda/steps.js';
import { fakeClock } from '../support/fake-clock.js';
import {
  keyOf,
  RK1_SECRET_A,
  RK1_SECRET_B,
  RK1_SECRET_C,
  rk1Config,
  SECRET_ARN,
  seedRk1,
} from '../support/fixtures.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { pgliteRunner } from '../support/pglite-runner.js';
import { hookedRunner, recordingRunner } from '../support/recording-runner.js';

const TOKEN = '11111111-2222-4333-8444-555555555555';
const HOUR = 3_600_000;
/** The default reader bound (one hour) plus its margin (five minutes). */
const BOUND = HOUR + 5 * 60_000;

async function world(config: RekeyConfig = rk1Config()) {
  const secrets = new MemorySecrets(SECRET_ARN);
  const clock = fakeClock();
  secrets.now = clock.now;
  const db = await pgliteRunner();
  const log = memoryLog();
  await seedRk1(db, config, RK1_SECRET_A, 6);
  const deps = (overrides: Partial<StepDeps> = {}): StepDeps => ({
    secrets,
    db,
    clock,
    log,
    config,
    deadline: clock.now() + 15 * 60_000,
    ...overrides,
  });
  const step = (step: RotationStep, overrides?: Partial<StepDeps>) =>
    runStep({ Step: step, SecretId: SECRET_ARN, ClientRequestToken: TOKEN }, deps(overrides));
  return { secrets, clock, db, log, config, deps, step };
}

/** How many stored values are under each key id. */
async function kids(db: SqlRunner, config: RekeyConfig): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of config.storedFields) {
    for (const c of t.columns) {
      for (const [v] of (await db.execute(`SELECT ${c} FROM ${t.table} WHERE ${c} IS NOT NULL`)).rows) {
        const kid = String(v).split(':')[1] ?? '?';
        out[kid] = (out[kid] ?? 0) + 1;
      }
    }
  }
  return out;
}

describe('finishSecret wants positive proof before it promotes', () => {
  it('refuses to promote a version whose testSecret has not passed, and changes nothing', async () => {
    const w = await world();
    const old = w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    await assert.rejects(w.step('finishSecret'), {
      name: 'RotationStateError',
      message: /testSecret has not passed for version .* refusing to promote an untested version/,
    });
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSPENDING']);
    assert.deepEqual(w.secrets.stagesOf(old), ['AWSCURRENT']);
  });

  it('promotes once testSecret passed for this very version, and records the promotion', async () => {
    const w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    for (const s of ['createSecret', 'setSecret', 'testSecret'] as const) await w.step(s);
    assert.equal(w.secrets.tags[MARK_TAGS.verified], TOKEN);
    await w.step('finishSecret');
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSCURRENT']);
    assert.equal(w.secrets.tags[MARK_TAGS.promoted], `${TOKEN} ${new Date(w.clock.now()).toISOString()}`);
  });

  it('does not promote a version that rekey abort took away while finishSecret was reading', async () => {
    const w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    w.secrets.tags[MARK_TAGS.verified] = TOKEN;
    let n = 0;
    const db: SqlRunner = {
      dialect: w.db.dialect,
      execute: (sql, params, options) => {
        // Mid-read, an abort marks the version, waits, moves the rows back and unstages it.
        if (++n === 3) {
          w.secrets.tags[MARK_TAGS.aborting] = TOKEN;
          w.clock.advance(70_000);
          for (const v of w.secrets.versions) v.stages = v.stages.filter((s) => s !== 'AWSPENDING');
        }
        return w.db.execute(sql, params, options);
      },
      begin: () => w.db.begin(),
      commit: (tx) => w.db.commit(tx),
      rollback: (tx) => w.db.rollback(tx),
    };
    await assert.rejects(w.step('finishSecret', { db }), { name: 'RotationStateError' });
    assert.deepEqual(w.secrets.stagesOf(TOKEN), []);
  });

  it('does not accept a mark that names another version', async () => {
    const w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    w.secrets.tags[MARK_TAGS.verified] = '99999999-2222-4333-8444-555555555555';
    await assert.rejects(w.step('finishSecret'), { name: 'RotationStateError' });
  });

  it('refuses when stored rows sit under the key that the move would unstage', async () => {
    const w = await world();
    // Rows under C (AWSPREVIOUS) would be stranded once B is current and A previous.
    w.secrets.add(RK1_SECRET_C, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    w.secrets.tags[MARK_TAGS.verified] = TOKEN;
    w.clock.advance(BOUND);
    const codec = codecFor('rk1');
    const where = { table: 'tokens', column: 'value' };
    const stale = codec.encrypt(Buffer.from('x'), keyOf(RK1_SECRET_C, w.config), where);
    await w.db.execute("UPDATE tokens SET value = :v WHERE token_id = 'tok-0001'", { v: stale });
    await assert.rejects(w.step('finishSecret'), {
      name: 'StrandedRowsError',
      message: /1 stored rows are under keys .*tokens\.value: 1 rows under key id 'rk1:/,
    });
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSPENDING']);
  });
});

describe('the rotation keeps its side of the reader contract', () => {
  /** A secret rotated once by rekey: A was AWSCURRENT until now, B is AWSCURRENT since now. */
  const rotatedOnce = async () => {
    const w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    const b = w.secrets.add(RK1_SECRET_B, ['AWSCURRENT']);
    Object.assign(w.secrets.tags, promotedTag(b, w.clock.now()));
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    return w;
  };

  it('refuses to start a rotation that would unstage a key readers may still encrypt with', async () => {
    const w = await rotatedOnce();
    w.clock.advance(BOUND - 1);
    await assert.rejects(w.step('createSecret'), {
      name: 'RotationStateError',
      message: /Refusing to start a rotation .* readers\.maxAgeMs \(3600000 ms\).*Rotate at or after/,
    });
    assert.equal(w.secrets.valueAt('AWSPENDING'), undefined);
  });

  it('starts it once the bound and its margin have passed since the last promotion', async () => {
    const w = await rotatedOnce();
    w.clock.advance(BOUND);
    await w.step('createSecret');
    assert.ok(w.secrets.valueAt('AWSPENDING'));
  });

  it('follows a shorter bound from the configuration', async () => {
    const w = await rotatedOnce();
    const config = rk1Config({ readers: { maxAgeMs: 60_000, marginMs: 0 } });
    w.clock.advance(60_000);
    await w.step('createSecret', { config });
    assert.ok(w.secrets.valueAt('AWSPENDING'));
  });

  it('needs no wait when no distinct key is staged AWSPREVIOUS (the first rotation)', async () => {
    const w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    await w.step('createSecret');
    assert.ok(w.secrets.valueAt('AWSPENDING'));
  });

  it("falls back to the current version's CreatedDate when no mark names it (a value written by hand)", async () => {
    const w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSCURRENT']); // written by hand: A is AWSPREVIOUS from now
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    await assert.rejects(w.step('createSecret'), { name: 'RotationStateError' });
    w.clock.advance(BOUND);
    await w.step('createSecret');
  });

  it('re-checks the bound right before promotion', async () => {
    const w = await rotatedOnce();
    w.clock.advance(BOUND);
    for (const s of ['createSecret', 'setSecret', 'testSecret'] as const) await w.step(s);
    // Someone records a later promotion of the current version (as a retried finishSecret would).
    const current = w.secrets.versions.find((v) => v.stages.includes('AWSCURRENT'))?.versionId as string;
    Object.assign(w.secrets.tags, promotedTag(current, w.clock.now()));
    await assert.rejects(w.step('finishSecret'), { message: /Refusing to promote version/ });
    w.clock.advance(BOUND);
    await w.step('finishSecret');
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSCURRENT']);
  });

  it('moves rows under AWSPREVIOUS to the pending key before promoting', async () => {
    const w = await rotatedOnce();
    w.clock.advance(BOUND);
    for (const s of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) await w.step(s);
    const pending = keyOf(w.secrets.valueAt('AWSCURRENT') as string, w.config).kid;
    assert.deepEqual(Object.keys(await kids(w.db, w.config)), [pending]);
  });
});

describe('a running step re-checks that its version is still pending', () => {
  it('stops setSecret at its next check once an abort is marked, before writing again', async () => {
    const w = await world(rk1Config({ paging: { maxRows: 1, maxBytes: 512 * 1024 } }));
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    let marked = -1;
    const runner = hookedRunner(w.db, 20, () => {
      w.secrets.tags[MARK_TAGS.aborting] = TOKEN;
      w.clock.advance(w.config.stageCheckIntervalMs);
      marked = runner.sent.length;
    });
    await assert.rejects(w.step('setSecret', { db: runner }), {
      name: 'RotationStateError',
      message: /rekey abort is ending the rotation .* setSecret stops/,
    });
    // The statement that was about to go out when the mark was set is the last one sent.
    assert.equal(runner.sent.length, marked + 1);
  });

  it('keeps checking after a check that passed: an abort marked later still stops the step', async () => {
    const w = await world(rk1Config({ paging: { maxRows: 1, maxBytes: 512 * 1024 } }));
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    const runner = recordingRunner(w.db, (n) => {
      // A check is due (and passes) at statement 10; the abort comes later, at statement 20.
      if (n === 10) w.clock.advance(w.config.stageCheckIntervalMs);
      if (n === 20) {
        w.secrets.tags[MARK_TAGS.aborting] = TOKEN;
        w.clock.advance(w.config.stageCheckIntervalMs);
      }
    });
    await assert.rejects(w.step('setSecret', { db: runner }), { message: /rekey abort is ending/ });
    assert.equal(runner.sent.length, 20);
  });

  it('stops setSecret when AWSPENDING is taken from its version', async () => {
    const w = await world(rk1Config({ paging: { maxRows: 1, maxBytes: 512 * 1024 } }));
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    const runner = hookedRunner(w.db, 20, () => {
      w.secrets.versions.forEach((v) => {
        v.stages = v.stages.filter((s) => s !== 'AWSPENDING');
      });
      w.clock.advance(w.config.stageCheckIntervalMs);
    });
    await assert.rejects(w.step('setSecret', { db: runner }), { message: /is no longer AWSPENDING/ });
  });

  it('checks at most once per interval, not per statement', async () => {
    const w = await world(rk1Config({ paging: { maxRows: 1, maxBytes: 512 * 1024 } }));
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    const before = w.secrets.calls.describe ?? 0;
    await w.step('setSecret');
    // One describe by the step itself; the clock never moved, so no re-check was due.
    assert.equal((w.secrets.calls.describe ?? 0) - before, 1);
  });

  it('refuses to run any step of a version being aborted', async () => {
    const w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    w.secrets.tags[MARK_TAGS.aborting] = TOKEN;
    for (const s of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const)
      await assert.rejects(w.step(s), { name: 'RotationStateError', message: /rekey abort/ });
  });
});

describe('a rotation never counts what it failed to do as done', () => {
  /** A runner whose compare-and-swap writes match no row, as when ids do not round-trip. */
  const missingWrites = (db: SqlRunner): SqlRunner => ({
    dialect: db.dialect,
    execute: (sql, params, options) =>
      db.execute(sql.startsWith('UPDATE') ? `${sql} AND false` : sql, params, options),
    begin: () => db.begin(),
    commit: (tx) => db.commit(tx),
    rollback: (tx) => db.rollback(tx),
  });
  /** A runner whose pages come back empty, as an answer without the records asked for would read. */
  const blindPages = (db: SqlRunner): SqlRunner => ({
    dialect: db.dialect,
    execute: async (sql, params, options) => {
      const result = await db.execute(sql, params, options);
      return / AS i, /.test(sql) ? { ...result, rows: [] } : result;
    },
    begin: () => db.begin(),
    commit: (tx) => db.commit(tx),
    rollback: (tx) => db.rollback(tx),
  });

  const pendingWorld = async () => {
    const w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    return w;
  };

  it("fails setSecret on writes that matched rows still holding the value read: rekey's miss, not an app write", async () => {
    const w = await pendingWorld();
    await assert.rejects(w.step('setSecret', { db: missingWrites(w.db) }), {
      name: 'WriteMissedError',
      message:
        /data_sources\.options: the compare-and-swap matched none of 6 rows that still hold the value rekey read \(ids 1000, 2000/,
    });
  });

  it('fails testSecret on the same misses in its catch-up pass, so the version is never promoted', async () => {
    const w = await pendingWorld();
    await assert.rejects(w.step('testSecret', { db: missingWrites(w.db) }), { name: 'WriteMissedError' });
    await assert.rejects(w.step('finishSecret'), { name: 'RotationStateError' });
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSPENDING']);
  });

  it('fails setSecret when a column with rows to move reads as empty', async () => {
    const w = await pendingWorld();
    await assert.rejects(w.step('setSecret', { db: blindPages(w.db) }), {
      name: 'IncompletePassError',
      message:
        /re-encryption: read 0 rows of data_sources\.options, which held 6 rows before the pass and 6 after/,
    });
  });

  it('fails testSecret when it verified fewer rows than the table holds, and so never promotes', async () => {
    const w = await pendingWorld();
    await w.step('setSecret');
    await assert.rejects(w.step('testSecret', { db: blindPages(w.db) }), {
      name: 'VerificationError',
      message: /data_sources\.options: read 0 rows but the column held 6 before the read and 6 after/,
    });
    assert.equal(w.secrets.tags[MARK_TAGS.verified], undefined);
    await assert.rejects(w.step('finishSecret'), { name: 'RotationStateError' });
  });
});
