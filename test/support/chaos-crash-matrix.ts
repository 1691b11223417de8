import assert from 'node:assert/strict';
import type { SecretsStore, SqlRunner } from '../../lambda/ports.js';
import { ROTATION_STEPS } from '../../lambda/rotation-event.js';
import { generateSecretValue } from '../../lambda/secret-template.js';
import { runStep } from '../../lambda/steps.js';
import type { Hygiene } from './chaos-hygiene.js';
import { cachingCatalog } from './chaos-sql.js';
import { CHAOS_TEMPLATE, ChaosWorld, chaosSecret, seededRandom } from './chaos-world.js';
import { CrashSwitch, InjectedCrash } from './crash.js';
import { fakeClock } from './fake-clock.js';
import { SECRET_ARN } from './fixtures.js';
import { MemorySecrets } from './memory-secrets.js';

/** The rotation's token in every matrix run. */
export const MATRIX_TOKEN = 'c4a05000-2222-4333-8444-555555555555';
const PENDING_SEED = 'chaos-matrix-pending';

/** What a matrix run tried. */
export interface MatrixResult {
  /** Interruption points tried (each: crash, check, resume to the end, check). */
  readonly points: number;
  /** SQL and Secrets Manager calls of one uninterrupted rotation. */
  readonly calls: number;
  /** Stored fields checked, over all points. */
  readonly fieldsChecked: number;
}

/**
 * The crash matrix over one database: a whole rotation of the chaos tables counts N calls; then for
 * every call, once crashing right after it took effect and once right before it was sent, the
 * rotation is interrupted there, every stored field is checked to decrypt under a staged version to
 * its own plaintext, the rotation is resumed as the service would (a fresh invocation of every step,
 * same token), and then every field must be under the new AWSCURRENT, promoted exactly once, with the
 * old version AWSPREVIOUS.
 */
export async function runCrashMatrix(
  db: SqlRunner,
  hygiene: Hygiene,
  options: { readonly prefix: string; readonly label: string },
): Promise<MatrixResult> {
  const world = new ChaosWorld(db, options.prefix, {
    rows: 5,
    maxRows: 2,
    only: ['sources', 'tokens', 'fernet', 'redash'],
  });
  const rotationDb = cachingCatalog(db);
  const first = chaosSecret(`${options.label}-first`);
  const pending = generateSecretValue(CHAOS_TEMPLATE, JSON.parse(first), seededRandom(PENDING_SEED));
  hygiene.forbidSecret(first);
  hygiene.forbidSecret(pending);
  await world.create();
  try {
    const probe = new CrashSwitch(0);
    const probeWorld = await fresh(world, first);
    await rotate(world, rotationDb, probeWorld.secrets, probe, hygiene);
    const calls = probe.calls;
    let points = 0;
    let fieldsChecked = 0;
    for (const mode of ['after', 'before'] as const) {
      for (let at = 1; at <= calls; at++) {
        const label = `${options.label} crash ${mode} call ${at}`;
        const { secrets, firstId, promotions } = await fresh(world, first);
        await assert.rejects(
          rotate(world, rotationDb, secrets, new CrashSwitch(at, mode), hygiene),
          (error) => {
            hygiene.captureError(error);
            return error instanceof InjectedCrash;
          },
          `${label}: the rotation is interrupted`,
        );
        const staged = ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS']
          .map((stage) => secrets.valueAt(stage))
          .filter((v): v is string => v !== undefined);
        fieldsChecked += await world.assertIntact(staged, `${label}, before resuming`);
        await rotate(world, rotationDb, secrets, new CrashSwitch(0), hygiene);
        assert.deepEqual(secrets.stagesOf(MATRIX_TOKEN), ['AWSCURRENT'], `${label}: the token is AWSCURRENT`);
        assert.deepEqual(
          secrets.stagesOf(firstId),
          ['AWSPREVIOUS'],
          `${label}: the old version is AWSPREVIOUS`,
        );
        assert.equal(promotions.count, 1, `${label}: promoted exactly once`);
        assert.equal(secrets.valueAt('AWSCURRENT'), pending, `${label}: the value created once is promoted`);
        fieldsChecked += await world.assertIntact([pending], `${label}, after resuming`);
        points++;
      }
    }
    return { points, calls, fieldsChecked };
  } finally {
    await world.drop();
  }
}

async function fresh(world: ChaosWorld, first: string) {
  await world.seed(first);
  const secrets = new MemorySecrets(SECRET_ARN);
  const firstId = secrets.add(first, ['AWSCURRENT']);
  // As RotateSecret does: the token is registered as an empty AWSPENDING version before createSecret.
  secrets.add(undefined, ['AWSPENDING'], MATRIX_TOKEN);
  const promotions = { count: 0 };
  return { secrets: countingPromotions(secrets, promotions), firstId, promotions };
}

/** The store, counting the moves of AWSCURRENT onto the token that took effect. */
function countingPromotions(secrets: MemorySecrets, promotions: { count: number }): MemorySecrets {
  const moveStage = secrets.moveStage.bind(secrets);
  secrets.moveStage = async (id, stage, move) => {
    const before = secrets.stagesOf(MATRIX_TOKEN).includes('AWSCURRENT');
    await moveStage(id, stage, move);
    if (stage === 'AWSCURRENT' && !before && secrets.stagesOf(MATRIX_TOKEN).includes('AWSCURRENT'))
      promotions.count++;
  };
  return secrets;
}

/** The four steps as the service calls them, each a fresh invocation with its own deps. */
async function rotate(
  world: ChaosWorld,
  db: SqlRunner,
  store: SecretsStore,
  crash: CrashSwitch,
  hygiene: Hygiene,
): Promise<void> {
  const clock = fakeClock();
  const log = hygiene.log();
  for (const step of ROTATION_STEPS) {
    await runStep(
      { Step: step, SecretId: SECRET_ARN, ClientRequestToken: MATRIX_TOKEN },
      {
        secrets: crash.secrets(store),
        db: crash.sql(db),
        clock,
        log,
        config: world.config,
        deadline: clock.now() + 15 * 60_000,
        random: seededRandom(PENDING_SEED),
      },
    );
  }
}
