import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { awsClients, rotationDeps } from '../../bin/cli/clients.js';
import { parseConfig } from '../../lambda/config.js';
import { silentLog } from '../../lambda/log.js';
import type { Clock, SqlRunner } from '../../lambda/ports.js';
import { ROTATION_STEPS } from '../../lambda/rotation-event.js';
import { runStep } from '../../lambda/steps.js';
import { RK1_SECRET_A, RK1_SECRET_B } from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { rk1World, type World } from './world.js';

/** A runner that lets the event loop run between statements, so another task interleaves with it. */
function interleaving(db: SqlRunner, inflight: { count: number }): SqlRunner {
  return {
    dialect: db.dialect,
    execute: async (sql, params, options) => {
      inflight.count++;
      try {
        for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
        return await db.execute(sql, params, options);
      } finally {
        inflight.count--;
      }
    },
    begin: () => db.begin(),
    commit: (tx) => db.commit(tx),
    rollback: (tx) => db.rollback(tx),
  };
}

/**
 * A clock that moves only when something sleeps, and whose sleep, like real waiting, lets the
 * statements already sent come back first (what abort's statement allowance stands for).
 */
function settlingClock(inflight: { count: number }): Clock {
  let now = 1_700_000_000_000;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
      while (inflight.count > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
}

describe('operators acting while a rotation step runs', () => {
  let w: World;
  let current: string;
  beforeEach(async () => {
    w = await rk1World(40);
    current = await w.put(RK1_SECRET_A, ['AWSCURRENT']);
  });
  afterEach(() => w.close());

  const stepDeps = (clock: Clock, inflight: { count: number }) => {
    // One row a page: the step is mid-table for a long while.
    const config = parseConfig({ ...w.config, paging: { maxRows: 1, maxBytes: 512 * 1024 } });
    const base = rotationDeps(config, awsClients({}), { clock, log: silentLog });
    return { ...base, db: interleaving(base.db, inflight), deadline: clock.now() + 3_600_000 };
  };

  it('rekey abort stops a running setSecret before it reports success, and leaves no row under the unstaged key', async () => {
    const pending = await w.stuckRotation(RK1_SECRET_B);
    const inflight = { count: 0 };
    const clock = settlingClock(inflight);
    const setSecret = runStep(
      { Step: 'setSecret', SecretId: w.secretId, ClientRequestToken: pending },
      stepDeps(clock, inflight),
    ).then(
      () => 'finished',
      (error: Error) => error.name,
    );
    // Let the step move some rows first.
    while (((await w.countBy({ pending: RK1_SECRET_B })).pending ?? 0) < 4)
      await new Promise<void>((resolve) => setImmediate(resolve));
    const r = await rekey(['abort', ...w.args], { clock });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await setSecret, 'RotationStateError');
    assert.deepEqual(await w.stagesOf(pending), []);
    assert.deepEqual(await w.stagesOf(current), ['AWSCURRENT']);
    // Every row is under the current key: none under the pending key, which is no longer staged.
    assert.deepEqual(await w.countBy({ current: RK1_SECRET_A }), { current: 152, NULL: 8 });
  });

  it('rekey resume beside the service retry of the same token promotes once, with every row moved', async () => {
    const pending = await w.stuckRotation(RK1_SECRET_B);
    const inflight = { count: 0 };
    const clock = settlingClock(inflight);
    const retry = (async () => {
      for (const step of ROTATION_STEPS) {
        await runStep(
          { Step: step, SecretId: w.secretId, ClientRequestToken: pending },
          stepDeps(clock, inflight),
        );
      }
    })();
    const r = await rekey(['resume', ...w.args], { clock });
    await retry;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await w.stagesOf(pending), ['AWSCURRENT']);
    assert.deepEqual(await w.stagesOf(current), ['AWSPREVIOUS']);
    assert.deepEqual(await w.countBy({ pending: RK1_SECRET_B }), { pending: 152, NULL: 8 });
  });
});
