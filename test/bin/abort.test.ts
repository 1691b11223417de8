import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { REDASH_SECRET_A, REDASH_SECRET_B, RK1_SECRET_A, RK1_SECRET_B } from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { assertNoSecrets, prefixOf, redashWorld, rk1World, type World } from './world.js';

const PENDING = 'dddddddd-0000-4000-8000-000000000001';

describe('rekey abort', () => {
  let w: World;
  let current: string;
  beforeEach(async () => {
    w = await rk1World();
    current = w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
  });

  it('moves rows under the pending key back to the current key, proves none is left, then removes AWSPENDING', async () => {
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], PENDING);
    await w.move(RK1_SECRET_A, RK1_SECRET_B, 6);
    const r = await rekey(['abort', ...w.args]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(w.secrets.stagesOf(PENDING), []);
    assert.deepEqual(w.secrets.stagesOf(current), ['AWSCURRENT']);
    assert.deepEqual([...(await w.prefixes())].sort(), [
      ['NULL', 2],
      [prefixOf(RK1_SECRET_A, w.config), 38],
    ]);
    assert.match(r.stdout, /verified: no stored value is under the pending key \(24 moved back\)/);
    assert.match(r.stdout, new RegExp(`removed AWSPENDING from version ${PENDING}`));
    assertNoSecrets(r.all);
  });

  it('removes AWSPENDING without touching rows when the pending version has no value yet', async () => {
    w.secrets.add(undefined, ['AWSPENDING'], PENDING);
    const r = await rekey(['abort', ...w.args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      secretId: w.args[1],
      pendingVersionId: PENDING,
      currentVersionId: current,
      movedBack: 0,
      outcome: 'aborted',
    });
    assert.deepEqual(w.secrets.stagesOf(PENDING), []);
  });

  it('refuses with exit 4 when no rotation is pending, and changes nothing', async () => {
    const r = await rekey(['abort', ...w.args]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^error: RotationStateError: no rotation is pending .* nothing to abort\n$/);
    assert.deepEqual(w.secrets.stagesOf(current), ['AWSCURRENT']);
  });

  it('moves back rows that a still-running step moved after the count, and exits 1 to say so', async () => {
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], PENDING);
    await w.move(RK1_SECRET_A, RK1_SECRET_B, 2);
    w.beforeMoveStage = async (input) => {
      if (input.VersionStage === 'AWSPENDING') await w.move(RK1_SECRET_A, RK1_SECRET_B, 3);
    };
    const r = await rekey(['abort', ...w.args]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: RotationFailedError: 12 rows were moved to the pending key while abort ran/m,
    );
    assert.deepEqual(w.secrets.stagesOf(PENDING), []);
    assert.equal((await w.prefixes()).get(prefixOf(RK1_SECRET_B, w.config)), undefined);
  });
});

describe('rekey abort on Fernet tokens (Redash)', () => {
  it('finds the rows under the pending key by HMAC and moves them back before removing AWSPENDING', async () => {
    const w = await redashWorld();
    w.secrets.add(REDASH_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(REDASH_SECRET_B, ['AWSPENDING'], PENDING);
    await w.move(REDASH_SECRET_A, REDASH_SECRET_B, 4);
    const r = await rekey(['abort', ...w.args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).movedBack, 8);
    assert.deepEqual(await w.countBy({ current: REDASH_SECRET_A, pending: REDASH_SECRET_B }), {
      current: 20,
    });
    assert.deepEqual(w.secrets.stagesOf(PENDING), []);
    assertNoSecrets(r.all);
  });
});
