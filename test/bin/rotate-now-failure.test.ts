import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { reportRotations } from '../../bin/cli/local.js';
import { LOCAL_FAILURE_TAG } from '../../bin/cli/local-failure.js';
import type { Clock } from '../../lambda/ports.js';
import { RK1_SECRET_A, RK1_SECRET_B } from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { assertNoSecrets, rk1World, type World } from './world.js';

describe('rekey rotate-now --wait against `rekey local` when the rotation fails', () => {
  let w: World;
  let localStderr: string[];
  let stopReporting: () => void;
  /** A clock whose polls wait for the local rotation to settle, so nothing depends on real time. */
  let clock: Clock;

  beforeEach(async () => {
    w = await rk1World();
    await w.put(RK1_SECRET_A, ['AWSCURRENT']);
    await w.enableRotation();
    localStderr = [];
    stopReporting = reportRotations(w.local.secretsManager, { write: (t: string) => localStderr.push(t) });
    let now = 0;
    clock = {
      now: () => now,
      sleep: async (ms) => {
        now += ms;
        await w.local.secretsManager.idle();
      },
    };
    // The rotation function creates the pending value, then setSecret fails.
    w.local.secretsManager.setInvoker(async (event) => {
      if (event.Step === 'createSecret') {
        await w.call('PutSecretValue', {
          SecretId: w.secretId,
          ClientRequestToken: event.ClientRequestToken,
          SecretString: RK1_SECRET_B,
          VersionStages: ['AWSPENDING'],
        });
        return;
      }
      throw new Error('relation "data_sources" is locked');
    });
  });
  afterEach(async () => {
    stopReporting();
    await w.close();
  });

  it('stops with exit 1 and says which step failed and why, as the local Secrets Manager recorded it', async () => {
    const r = await rekey(['rotate-now', '--secret-id', w.secretId, '--wait'], { clock });
    assert.equal(r.code, 1, r.all);
    assert.match(
      r.stderr,
      /^error: RotationFailedError: rotation failed in setSecret \(attempt 1, as `rekey local` recorded it\): Error: relation "data_sources" is locked\. Version \S+ stays AWSPENDING: .*`rekey resume`.*`rekey abort`/,
    );
    assert.match(
      localStderr.join(''),
      /^rotation: RotationFailed app version \S+ \(attempt 1\) in setSecret: Error: relation "data_sources" is locked$/m,
    );
    assertNoSecrets(r.all);
  });

  it('gives the step and the error as fields with --json', async () => {
    const r = await rekey(['rotate-now', '--secret-id', w.secretId, '--wait', '--json'], { clock });
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout);
    assert.equal(report.outcome, 'failed');
    assert.deepEqual(report.failure, {
      versionId: report.versionId,
      step: 'setSecret',
      attempt: 1,
      error: 'Error: relation "data_sources" is locked',
    });
  });

  it('takes the failure tag away once a reattempt of the rotation succeeds', async () => {
    await rekey(['rotate-now', '--secret-id', w.secretId, '--wait'], { clock });
    const tagKeys = async () =>
      (((await w.call('DescribeSecret', { SecretId: w.secretId })).Tags ?? []) as { Key: string }[]).map(
        (t) => t.Key,
      );
    assert.ok((await tagKeys()).includes(LOCAL_FAILURE_TAG));
    const current = Object.entries(await w.stages()).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
    w.local.secretsManager.setInvoker(async (event) => {
      if (event.Step !== 'finishSecret') return;
      await w.call('UpdateSecretVersionStage', {
        SecretId: w.secretId,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: event.ClientRequestToken,
        RemoveFromVersionId: current,
      });
    });
    // RotateSecret while a rotation is unfinished reattempts that rotation.
    await w.call('RotateSecret', { SecretId: w.secretId }).catch(() => undefined);
    await w.local.secretsManager.idle();
    assert.match(localStderr.join(''), /^rotation: RotationSucceeded app version /m);
    assert.ok(!(await tagKeys()).includes(LOCAL_FAILURE_TAG));
  });
});
