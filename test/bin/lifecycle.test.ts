import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { awsClients, rotationDeps } from '../../bin/cli/clients.js';
import { silentLog } from '../../lambda/log.js';
import type { Clock } from '../../lambda/ports.js';
import { systemClock } from '../../lambda/ports.js';
import { parseEvent } from '../../lambda/rotation-event.js';
import { runStep } from '../../lambda/steps.js';
import { RK1_SECRET_A } from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { assertNoSecrets, rk1World, type World } from './world.js';

const KEY_A = JSON.parse(RK1_SECRET_A).encryptionKey as string;

describe('an operator adopting rekey on the local endpoints', () => {
  let w: World;
  afterEach(() => w.close());

  it('adopts the key, rotates with the real rotation steps, and sees it in status and inventory', async () => {
    w = await rk1World();
    // The rotation function, in this process: the Lambda's own steps against the same endpoints.
    const deps = rotationDeps(w.config, awsClients({}), { clock: systemClock, log: silentLog });
    const invoke = async (event: unknown) => {
      const parsed = parseEvent(event);
      if ('action' in parsed) throw new Error('unexpected sweep');
      await runStep(parsed, { ...deps, deadline: Date.now() + 900_000 });
    };

    const init = await rekey(['init', ...w.args, '--adopt-key-file', '-'], { stdin: KEY_A });
    assert.equal(init.code, 0, init.stderr);
    await w.enableRotation();
    w.local.secretsManager.setInvoker(invoke);

    // The CLI's clock waits for the rotation to settle instead of sleeping.
    let now = Date.now();
    const clock: Clock = {
      now: () => now,
      sleep: async (ms) => {
        now += ms;
        await w.local.secretsManager.idle();
      },
    };
    const rotated = await rekey(['rotate-now', ...w.args, '--wait', '--json'], { clock });
    assert.equal(rotated.code, 0, rotated.stderr);
    const { outcome, versionId } = JSON.parse(rotated.stdout);
    assert.equal(outcome, 'promoted');

    const status = await rekey(['status', '--secret-id', w.secretId, '--json'], { clock });
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout);
    assert.equal(report.health, 'ok');
    assert.equal(report.pending, undefined);
    assert.ok(report.rotation.lastRotated);
    assert.deepEqual(report.versions.map((v: { stages: string[] }) => v.stages.join()).sort(), [
      'AWSCURRENT',
      'AWSPREVIOUS',
    ]);
    assert.equal(
      report.versions.find((v: { stages: string[] }) => v.stages.includes('AWSCURRENT')).versionId,
      versionId,
    );

    const inventory = await rekey(['inventory', ...w.args, '--json']);
    assert.equal(inventory.code, 0, inventory.stderr);
    const { current, previous, pending, unknown, plaintext } = JSON.parse(inventory.stdout).total;
    assert.deepEqual(
      { current, previous, pending, unknown, plaintext },
      { current: 38, previous: 0, pending: 0, unknown: 0, plaintext: 0 },
    );

    for (const r of [init, rotated, status, inventory]) assertNoSecrets(r.all);
  });
});
