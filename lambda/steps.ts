import type { RekeyConfig } from './config.js';
import { RotationStateError, VerificationError } from './errors.js';
import type { Clock, Log, ProgressSink, SecretsStore, SecretValue, SqlRunner } from './ports.js';
import { type ReencryptReport, reencrypt } from './reencrypt.js';
import type { RetryPolicy } from './retry.js';
import type { RotationEvent, RotationStep, SweepEvent } from './rotation-event.js';
import { checkSecretValue, generateSecretValue, type RandomBytes } from './secret-template.js';
import type { KeyVersions } from './table-keys.js';
import { type ColumnVerification, checkKeysReachable, verifyAll } from './verify.js';

/** Everything a step needs; the Lambda, the CLI and the tests each build their own. */
export interface StepDeps {
  readonly secrets: SecretsStore;
  readonly db: SqlRunner;
  readonly clock: Clock;
  readonly log: Log;
  readonly config: RekeyConfig;
  /** Epoch ms by which the step must have returned (the Lambda's deadline). */
  readonly deadline: number;
  readonly progress?: ProgressSink;
  readonly random?: RandomBytes;
  readonly retry?: RetryPolicy;
}

/**
 * Runs one rotation step after the checks of the service's own rotation templates (with their wording,
 * so operators can search for it).
 * @throws RotationStateError when the secret's state does not allow the step; the step's own errors.
 */
export async function runStep(event: RotationEvent, deps: StepDeps): Promise<void> {
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  const logFields = { step, secretId, versionId: token };
  const started = deps.clock.now();
  const description = await deps.secrets.describe(secretId);
  if (description.rotationEnabled === false) {
    throw new RotationStateError(`Secret ${secretId} is not enabled for rotation`);
  }
  const version = description.versions.find((v) => v.versionId === token);
  if (!version)
    throw new RotationStateError(`Secret version ${token} has no stage for rotation of secret ${secretId}.`);
  if (version.stages.includes('AWSCURRENT')) {
    if (step === 'finishSecret' && version.stages.includes('AWSPENDING')) {
      await deps.secrets.moveStage(secretId, 'AWSPENDING', { fromVersionId: token });
    }
    deps.log.info(`Secret version ${token} already set as AWSCURRENT for secret ${secretId}.`, logFields);
    return;
  }
  if (!version.stages.includes('AWSPENDING')) {
    throw new RotationStateError(
      `Secret version ${token} not set as AWSPENDING for rotation of secret ${secretId}.`,
    );
  }
  const currentVersionId = description.versions.find((v) => v.stages.includes('AWSCURRENT'))?.versionId;
  const ctx: StepContext = { deps, secretId, token, currentVersionId, logFields };
  await STEPS[step](ctx, event);
  deps.log.info(`${step} done`, { ...logFields, durationMs: deps.clock.now() - started });
}

interface StepContext {
  readonly deps: StepDeps;
  readonly secretId: string;
  readonly token: string;
  readonly currentVersionId: string | undefined;
  readonly logFields: Record<string, unknown>;
}

const STEPS: Record<RotationStep, (ctx: StepContext, event: RotationEvent) => Promise<void>> = {
  createSecret,
  setSecret,
  testSecret,
  finishSecret,
};

/** Generates the pending value, once per token: an existing AWSPENDING value for it is kept as is. */
async function createSecret(ctx: StepContext, event: RotationEvent): Promise<void> {
  const { deps, secretId, token } = ctx;
  const current = await requireCurrent(ctx);
  const carryOver = checkSecretValue(
    current.secretString,
    deps.config.secretTemplate,
    `AWSCURRENT of ${secretId}`,
  );
  const pending = await deps.secrets.getValue(secretId, { versionId: token, stage: 'AWSPENDING' });
  if (pending) {
    deps.log.info('createSecret: Successfully retrieved secret.', ctx.logFields);
    return;
  }
  const value = generateSecretValue(deps.config.secretTemplate, carryOver, deps.random);
  await deps.secrets.putPending(secretId, token, value, event.RotationToken);
  deps.log.info('createSecret: Successfully put secret.', ctx.logFields);
}

/** Re-encrypts every configured column from the current or previous key to the pending key. */
async function setSecret(ctx: StepContext): Promise<void> {
  const keys = await loadKeys(ctx);
  const report = await moveToPending(ctx, keys);
  ctx.deps.log.info('setSecret: stored fields re-encrypted', { ...ctx.logFields, ...summarize(report) });
}

/**
 * Proves the pending version works: one catch-up pass for rows the app wrote since setSecret, then a
 * full read in which every value must decrypt with the pending key alone. The one exception is rows
 * the app wrote under AWSCURRENT after the catch-up pass: promotion keeps them readable (as
 * AWSPREVIOUS) and the sweep moves them; rows under an older key would be stranded and fail the step.
 * @throws VerificationError with counts and row ids (never values).
 */
async function testSecret(ctx: StepContext): Promise<void> {
  const { deps } = ctx;
  const keys = await loadKeys(ctx);
  await moveToPending(ctx, keys);
  const verified = await verifyAll(keys, { ...scanDeps(ctx), progress: deps.progress });
  const problems = verificationProblems(verified, deps.config);
  const totals = verified.reduce(
    (t, c) => ({
      rows: t.rows + c.rows,
      plaintext: t.plaintext + c.plaintext,
      undecryptable: t.undecryptable + c.undecryptable,
    }),
    { rows: 0, plaintext: 0, undecryptable: 0 },
  );
  // The app encrypts with AWSCURRENT until promotion, so a busy app always has written some rows since
  // the catch-up pass. They stay readable (AWSCURRENT becomes AWSPREVIOUS) and the sweep moves them;
  // failing on them would make a rotation impossible while the app is in use.
  const underCurrent = verified.reduce((n, c) => n + c.offTarget - c.offOlder, 0);
  if (underCurrent > 0) {
    deps.log.warn('testSecret: rows written under AWSCURRENT since the catch-up pass; the sweep moves them', {
      ...ctx.logFields,
      rows: underCurrent,
    });
  }
  if (problems.length > 0) {
    deps.log.error('testSecret: verification failed', { ...ctx.logFields, ...totals });
    throw new VerificationError(`testSecret failed for version ${ctx.token}: ${problems.join('; ')}`);
  }
  deps.log.info('testSecret: every stored field decrypts with the pending version', {
    ...ctx.logFields,
    ...totals,
  });
}

/** Moves AWSCURRENT to the pending version (the service moves AWSPREVIOUS), then drops AWSPENDING. */
async function finishSecret(ctx: StepContext): Promise<void> {
  const { deps, secretId, token, currentVersionId } = ctx;
  await deps.secrets.moveStage(secretId, 'AWSCURRENT', {
    toVersionId: token,
    fromVersionId: currentVersionId,
  });
  await deps.secrets.moveStage(secretId, 'AWSPENDING', { fromVersionId: token });
  deps.log.info(
    `finishSecret: Successfully set AWSCURRENT stage to version ${token} for secret ${secretId}.`,
    ctx.logFields,
  );
}

/**
 * Re-encrypts stragglers under AWSPREVIOUS (written by app instances with a stale key ring) to
 * AWSCURRENT. Does nothing while a rotation is in progress.
 */
export async function runSweep(event: SweepEvent, deps: StepDeps): Promise<ReencryptReport | undefined> {
  const secretId = event.SecretId ?? deps.config.secretId;
  if (!secretId)
    throw new RotationStateError('sweep needs a SecretId in the event or secretId in the configuration');
  const logFields = { step: 'sweep', secretId };
  const description = await deps.secrets.describe(secretId);
  const pending = description.versions.find(
    (v) => v.stages.includes('AWSPENDING') && !v.stages.includes('AWSCURRENT'),
  );
  if (pending) {
    deps.log.info('sweep: a rotation is in progress; nothing to do', {
      ...logFields,
      versionId: pending.versionId,
    });
    return undefined;
  }
  const current = await deps.secrets.getValue(secretId, { stage: 'AWSCURRENT' });
  if (!current) throw new RotationStateError(`Secret ${secretId} has no AWSCURRENT version`);
  const previous = await deps.secrets.getValue(secretId, { stage: 'AWSPREVIOUS' });
  const versions = {
    target: checked(current, deps.config),
    sources: previous ? [checked(previous, deps.config)] : [],
  };
  const ctx: StepContext = {
    deps,
    secretId,
    token: current.versionId,
    currentVersionId: current.versionId,
    logFields,
  };
  await checkKeysReachable([versions.target, ...versions.sources], scanDeps(ctx));
  const report = await reencrypt(versions, { ...scanDeps(ctx), progress: deps.progress });
  deps.log.info('sweep: stragglers moved to AWSCURRENT', { ...logFields, ...summarize(report) });
  return report;
}

/** The pending value is the target; current and previous values are the sources. Secret: never log. */
async function loadKeys(ctx: StepContext): Promise<KeyVersions> {
  const { deps, secretId, token } = ctx;
  const pending = await deps.secrets.getValue(secretId, { versionId: token, stage: 'AWSPENDING' });
  if (!pending) {
    throw new RotationStateError(
      `Secret version ${token} of secret ${secretId} has no value staged AWSPENDING; createSecret has not run for it`,
    );
  }
  const current = await requireCurrent(ctx);
  const previous = await deps.secrets.getValue(secretId, { stage: 'AWSPREVIOUS' });
  const sources = [current, previous].flatMap((v) => (v ? [checked(v, deps.config)] : []));
  return { target: checked(pending, deps.config), sources };
}

async function moveToPending(ctx: StepContext, keys: KeyVersions): Promise<ReencryptReport> {
  await checkKeysReachable([keys.target, ...keys.sources], scanDeps(ctx));
  return reencrypt(keys, { ...scanDeps(ctx), progress: ctx.deps.progress });
}

async function requireCurrent(ctx: StepContext): Promise<SecretValue> {
  const current = await ctx.deps.secrets.getValue(ctx.secretId, { stage: 'AWSCURRENT' });
  if (!current) {
    throw new RotationStateError(
      `Secret ${ctx.secretId} has no AWSCURRENT value; write a first version with 'rekey init' before rotating`,
    );
  }
  return current;
}

/** The version's value, once checked against the template. */
function checked(version: SecretValue, config: RekeyConfig): string {
  checkSecretValue(version.secretString, config.secretTemplate, `version ${version.versionId}`);
  return version.secretString;
}

function scanDeps(ctx: StepContext) {
  const { db, clock, log, config, deadline, retry } = ctx.deps;
  return { db, clock, log, config, deadline, retry, logFields: ctx.logFields };
}

function summarize(report: ReencryptReport): Record<string, number> {
  const sum = (pick: (c: ReencryptReport['columns'][number]) => number) =>
    report.columns.reduce((s, c) => s + pick(c), 0);
  return {
    rows: report.done,
    scanned: sum((c) => c.scanned),
    rewritten: sum((c) => c.rewritten),
    conflicts: sum((c) => c.conflicts),
    unresolved: sum((c) => c.unresolved),
    plaintext: sum((c) => c.plaintext),
    undecryptable: sum((c) => c.undecryptable),
  };
}

function verificationProblems(columns: readonly ColumnVerification[], config: RekeyConfig): string[] {
  const problems: string[] = [];
  for (const c of columns) {
    const where = `${c.table}.${c.column}`;
    if (c.offOlder > 0) {
      problems.push(
        `${where}: ${c.offOlder} rows still under an older key than AWSCURRENT (ids ${c.offOlderIds.join(', ')})`,
      );
    }
    if (c.plaintext > 0 && config.policies.plaintext === 'fail') {
      problems.push(`${where}: ${c.plaintext} plaintext rows (ids ${c.plaintextIds.join(', ')})`);
    }
    if (c.undecryptable > 0 && config.policies.undecryptable === 'fail') {
      problems.push(
        `${where}: ${c.undecryptable} rows no staged version can decrypt (ids ${c.undecryptableIds.join(', ')})`,
      );
    }
  }
  return problems;
}
