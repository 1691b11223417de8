import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RotationStateError } from '../../lambda/errors.js';
import type { SqlRunner } from '../../lambda/ports.js';
import { ROTATION_STEPS, type RotationStep } from '../../lambda/rotation-event.js';
import { runStep, type StepDeps } from '../../lambda/steps.js';
import { Hygiene } from '../support/chaos-hygiene.js';
import { ChaosWorld, chaosSecret, seededRandom } from '../support/chaos-world.js';
import { fakeClock } from '../support/fake-clock.js';
import { SECRET_ARN } from '../support/fixtures.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { pgliteRunner } from '../support/pglite-runner.js';

/**
 * Repeated, late and stray events against the same world, each with the service's expected answer and
 * a byte-for-byte comparison of every stored value. The single-step cases of test/lambda/steps.test.ts
 * check the answers; this adds "no data changed" over every step and the whole chaos schema.
 */
const hygiene = new Hygiene('repeated, late and stray events');
const TOKEN = 'e0e0e0e0-2222-4333-8444-555555555555';
const OTHER = 'e1e1e1e1-2222-4333-8444-555555555555';
let tried = 0;

describe('repeated, late and stray rotation events', () => {
  let db: SqlRunner;
  let world: ChaosWorld;
  const first = chaosSecret('events-first');
  hygiene.forbidSecret(first);

  before(async () => {
    db = await pgliteRunner();
    world = new ChaosWorld(db, 'rekey_chaos_e_');
    await world.create();
  });
  after(() => {
    hygiene.report({ hostile: tried, lost: 0 });
    hygiene.assertClean();
  });

  const deps = (secrets: MemorySecrets): StepDeps => {
    const clock = fakeClock();
    return {
      secrets,
      db,
      clock,
      log: hygiene.log(),
      config: world.config,
      deadline: clock.now() + 900_000,
      random: seededRandom('events-pending'),
    };
  };
  const step = (secrets: MemorySecrets, Step: RotationStep, token = TOKEN) =>
    runStep({ Step, SecretId: SECRET_ARN, ClientRequestToken: token }, deps(secrets));
  const snapshot = async (): Promise<string> => {
    const parts: unknown[] = [];
    for (const t of world.tables) {
      const r = await db.execute(`SELECT * FROM ${t.name} ORDER BY 1`);
      parts.push(
        r.rows.map((row) => row.map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))),
      );
    }
    return JSON.stringify(parts);
  };
  /** A secret with `first` AWSCURRENT and the token registered AWSPENDING, as RotateSecret leaves it. */
  const started = async () => {
    await world.seed(first);
    const secrets = new MemorySecrets(SECRET_ARN);
    const firstId = secrets.add(first, ['AWSCURRENT']);
    secrets.add(undefined, ['AWSPENDING'], TOKEN);
    return { secrets, firstId };
  };
  /** Runs `event` and checks its answer, that no stored value changed and that no stage moved. */
  const unchanged = async (
    label: string,
    secrets: MemorySecrets,
    event: () => Promise<void>,
    answer: RegExp | 'ok',
  ) => {
    const before = await snapshot();
    const stages = JSON.stringify(secrets.versions.map((v) => [v.versionId, v.stages]));
    if (answer === 'ok') await event();
    else
      await assert.rejects(
        event(),
        (e: Error) => {
          hygiene.captureError(e);
          return e instanceof RotationStateError && answer.test(e.message);
        },
        label,
      );
    assert.equal(await snapshot(), before, `${label}: no stored value changed`);
    assert.equal(
      JSON.stringify(secrets.versions.map((v) => [v.versionId, v.stages])),
      stages,
      `${label}: no stage moved`,
    );
    tried++;
  };

  it('runs each step twice with the same answer, the second changing nothing, and promotes once', async () => {
    const { secrets, firstId } = await started();
    for (const s of ROTATION_STEPS) {
      await step(secrets, s);
      // finishSecret again finds the token AWSCURRENT already: the service's answer is "nothing to do".
      await unchanged(`${s} again`, secrets, () => step(secrets, s), 'ok');
    }
    assert.deepEqual(secrets.stagesOf(TOKEN), ['AWSCURRENT']);
    assert.deepEqual(secrets.stagesOf(firstId), ['AWSPREVIOUS']);
    hygiene.forbidSecret(secrets.valueAt('AWSCURRENT') as string);
    await world.assertIntact([secrets.valueAt('AWSCURRENT') as string], 'after repeated steps');
  });

  it('does nothing for every step after promotion (a late retry)', async () => {
    const { secrets } = await started();
    for (const s of ROTATION_STEPS) await step(secrets, s);
    for (const s of ROTATION_STEPS) await unchanged(`late ${s}`, secrets, () => step(secrets, s), 'ok');
  });

  it('refuses every step for a token that is not a version of the secret', async () => {
    const { secrets } = await started();
    for (const s of ROTATION_STEPS)
      await unchanged(`stray ${s}`, secrets, () => step(secrets, s, OTHER), /has no stage for rotation/);
  });

  it('refuses every step while rotation is disabled', async () => {
    const { secrets } = await started();
    secrets.rotationEnabled = false;
    for (const s of ROTATION_STEPS)
      await unchanged(`disabled ${s}`, secrets, () => step(secrets, s), /is not enabled for rotation/);
  });

  it('refuses every step for a version while AWSPENDING is on another version', async () => {
    const { secrets, firstId } = await started();
    await step(secrets, 'createSecret');
    await step(secrets, 'setSecret');
    // The old version, staged AWSPREVIOUS-less and without AWSPENDING, sent as a token.
    secrets.add(chaosSecret('events-other'), [], OTHER);
    secrets.versions.find((v) => v.versionId === OTHER)?.stages.push('AWSPREVIOUS');
    for (const s of ROTATION_STEPS)
      await unchanged(`other ${s}`, secrets, () => step(secrets, s, OTHER), /not set as AWSPENDING/);
    assert.deepEqual(secrets.stagesOf(firstId), ['AWSCURRENT']);
  });
});
