import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { REDASH_SECRET_A, REDASH_SECRET_B, RK1_SECRET_A, RK1_SECRET_B } from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { assertNoSecrets, redashWorld, rk1World, type World } from './world.js';

describe('rekey abort', () => {
  let w: World;
  let current: string;
  beforeEach(async () => {
    w = await rk1World();
    current = await w.put(RK1_SECRET_A, ['AWSCURRENT']);
  });
  afterEach(() => w.close());

  it('moves rows under the pending key back to the current key, proves none is left, then removes AWSPENDING', async () => {
    const pending = await w.stuckRotation(RK1_SECRET_B);
    await w.move(RK1_SECRET_A, RK1_SECRET_B, 6);
    const r = await rekey(['abort', ...w.args]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await w.stagesOf(pending), []);
    assert.deepEqual(await w.stagesOf(current), ['AWSCURRENT']);
    assert.deepEqual(await w.countBy({ current: RK1_SECRET_A, pending: RK1_SECRET_B }), {
      current: 38,
      NULL: 2,
    });
    assert.match(r.stdout, /verified: no stored value is under the pending key \(24 moved back\)/);
    assert.match(r.stdout, new RegExp(`removed AWSPENDING from version ${pending}`));
    assertNoSecrets(r.all);
  });

  it('removes AWSPENDING without touching rows when the pending version has no value', async () => {
    const pending = await w.stuckRotation(undefined);
    const before = await w.snapshot();
    const r = await rekey(['abort', ...w.args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      secretId: w.secretId,
      pendingVersionId: pending,
      currentVersionId: current,
      movedBack: 0,
      outcome: 'aborted',
    });
    assert.deepEqual(await w.stagesOf(pending), []);
    assert.deepEqual(await w.snapshot(), before);
  });

  it('refuses with exit 4 when no rotation is pending, and changes nothing', async () => {
    const r = await rekey(['abort', ...w.args]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^error: RotationStateError: no rotation is pending .* nothing to abort\n$/);
    assert.deepEqual(await w.stages(), { [current]: ['AWSCURRENT'] });
  });

  it('moves back rows that a still-running step moved after the count, and exits 1 to say so', async () => {
    const pending = await w.stuckRotation(RK1_SECRET_B);
    await w.move(RK1_SECRET_A, RK1_SECRET_B, 2);
    const sm = w.local.secretsManager;
    const call = sm.call.bind(sm);
    // A rotation step still at work moves three more rows per column just as abort removes the label.
    sm.call = async (operation, body) => {
      if (operation === 'UpdateSecretVersionStage') await w.move(RK1_SECRET_A, RK1_SECRET_B, 3);
      return call(operation, body);
    };
    const r = await rekey(['abort', ...w.args]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: RotationFailedError: 12 rows were moved to the pending key while abort ran/m,
    );
    assert.deepEqual(await w.stagesOf(pending), []);
    assert.equal((await w.countBy({ pending: RK1_SECRET_B })).pending, undefined);
  });
});

describe('rekey abort on Fernet tokens (Redash)', () => {
  let w: World;
  afterEach(() => w.close());

  it('finds the rows under the pending key by HMAC and moves them back before removing AWSPENDING', async () => {
    w = await redashWorld();
    await w.put(REDASH_SECRET_A, ['AWSCURRENT']);
    const pending = await w.stuckRotation(REDASH_SECRET_B);
    await w.move(REDASH_SECRET_A, REDASH_SECRET_B, 4);
    const r = await rekey(['abort', ...w.args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).movedBack, 8);
    assert.deepEqual(await w.countBy({ current: REDASH_SECRET_A, pending: REDASH_SECRET_B }), {
      current: 20,
    });
    assert.deepEqual(await w.stagesOf(pending), []);
    assertNoSecrets(r.all);
  });
});
