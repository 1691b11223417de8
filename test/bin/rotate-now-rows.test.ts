import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Clock } from '../../lambda/ports.js';
import { RK1_SECRET_A, RK1_SECRET_B } from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { assertNoSecrets, rk1World, type World } from './world.js';

describe('rekey rotate-now --wait --config', () => {
  let w: World;
  afterEach(() => w.close());

  it('prints how many rows are under the new key as the rotation moves them', async () => {
    w = await rk1World();
    const current = await w.put(RK1_SECRET_A, ['AWSCURRENT']);
    await w.enableRotation();
    // The rotation function plays a script: it creates the pending value, then waits while the CLI's
    // polls move the rotation along, one stretch per poll.
    let token = '';
    let finish = () => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    w.local.secretsManager.setInvoker(async (event) => {
      token = event.ClientRequestToken;
      if (event.Step === 'createSecret') {
        await w.call('PutSecretValue', {
          SecretId: w.secretId,
          ClientRequestToken: token,
          SecretString: RK1_SECRET_B,
          VersionStages: ['AWSPENDING'],
        });
      } else await finished;
    });
    const script = [
      () => w.move(RK1_SECRET_A, RK1_SECRET_B, 2),
      () => w.move(RK1_SECRET_A, RK1_SECRET_B),
      async () => {
        const move = { SecretId: w.secretId, MoveToVersionId: token, RemoveFromVersionId: current };
        await w.call('UpdateSecretVersionStage', { ...move, VersionStage: 'AWSCURRENT' });
        await w.call('UpdateSecretVersionStage', {
          SecretId: w.secretId,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: token,
        });
        finish();
      },
    ];
    let now = 0;
    const clock: Clock = {
      now: () => now,
      sleep: async (ms) => {
        now += ms;
        await script.shift()?.();
      },
    };
    const r = await rekey(['rotate-now', ...w.args, '--wait'], { clock });
    await w.local.secretsManager.idle();
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.replace(/^\[\s*\d+s\] /, ''));
    assert.deepEqual(events, [
      `rotation started: version ${token} of ${w.secretId}`,
      `pending value created: version ${token} is AWSPENDING`,
      'rows under the new key: 0/38',
      'rows under the new key: 8/38',
      'rows under the new key: 38/38',
      `promoted: version ${token} is AWSCURRENT`,
      `rotation finished in 15s: version ${token} is AWSCURRENT`,
    ]);
    assertNoSecrets(r.all);
  });
});
