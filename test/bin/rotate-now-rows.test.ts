import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock } from '../../lambda/ports.js';
import { RK1_SECRET_A, RK1_SECRET_B, SECRET_ARN } from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { assertNoSecrets, rk1World } from './world.js';

describe('rekey rotate-now --wait --config', () => {
  it('prints how many rows are under the new key as the rotation moves them', async () => {
    const w = await rk1World();
    const current = w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    let token = '';
    w.onRotate = async (t) => {
      token = t;
      await w.secrets.putPending(SECRET_ARN, t, RK1_SECRET_B); // createSecret, as the service runs it
    };
    // Each poll's sleep plays the next stretch of the rotation: part of setSecret, the rest, finishSecret.
    const script = [
      () => w.move(RK1_SECRET_A, RK1_SECRET_B, 2),
      () => w.move(RK1_SECRET_A, RK1_SECRET_B),
      async () => {
        await w.secrets.moveStage(SECRET_ARN, 'AWSCURRENT', { toVersionId: token, fromVersionId: current });
        await w.secrets.moveStage(SECRET_ARN, 'AWSPENDING', { fromVersionId: token });
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
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.replace(/^\[\s*\d+s\] /, ''));
    assert.deepEqual(events, [
      `rotation started: version ${token} of ${SECRET_ARN}`,
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
