import { dataKeyFromSecretString } from './codecs/index.js';
import { type RekeyConfig, tableCodec } from './config.js';
import { RotationStateError, SecretFormatError, VerificationError } from './errors.js';
import { waitForFleet } from './fleet-gate.js';
import { checkUnlistedCiphertext } from './passes/db-census.js';
import { Pacer, pacedRunner } from './passes/pacing.js';
import type { PassDeps } from './passes/pass-deps.js';
import { openTablesOnce, type ReencryptReport, reencrypt } from './passes/reencrypt.js';
import { type ColumnVerification, checkKeysReachable, incompleteRead, verifyAll } from './passes/verify.js';
import type {
  Clock,
  Log,
  ProgressSink,
  SecretDescription,
  SecretsStore,
  SecretValue,
  SqlRunner,
} from './ports.js';
import { checkReadersCaughtUp } from './reader-bound.js';
import type { RetryPolicy } from './retry.js';
import type { RotationEvent, RotationStep, SweepEvent } from './rotation-event.js';
import { MARK_TAGS, promotedTag, readMarks } from './rotation-marks.js';
import { checkSecretValue, generateSecretValue, type RandomBytes } from './secret-template.js';
import { guardedRunner, stageProblem } from './stage-guard.js';
import type { KeyVersions } from './table-keys.js';

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
    if (step === 'finishSecret') await completePromotion(deps, description, secretId, token);
    deps.log.info(`Secret version ${token} already set as AWSCURRENT for secret ${secretId}.`, logFields);
    return;
  }
  if (!version.stages.includes('AWSPENDING')) {
    throw new RotationStateError(
      `Secret version ${token} not set as AWSPENDING for rotation of secret ${secretId}.`,
    );
  }
  const problem = stageProblem(description, { secretId, token, step });
  if (problem) throw new RotationStateError(problem);
  const currentVersionId = description.versions.find((v) => v.stages.includes('AWSCURRENT'))?.versionId;
  // The passes that write re-check, between statements, that the version is still theirs: an operator's
  // abort (or a value written by hand) must stop them before they write under a key being unstaged.
  const db =
    step === 'setSecret' || step === 'testSecret'
      ? guardedRunner(deps.db, deps, { secretId, token, step }, deps.config.stageCheckIntervalMs, started)
      : deps.db;
  const ctx: StepContext = {
    deps: { ...deps, db },
    secretId,
    token,
    currentVersionId,
    description,
    logFields,
  };
  await STEPS[step](ctx, event);
  deps.log.info(`${step} done`, { ...logFields, durationMs: deps.clock.now() - started });
}

interface StepContext {
  readonly deps: StepDeps;
  readonly secretId: string;
  readonly token: string;
  readonly currentVersionId: string | undefined;
  /** DescribeSecret as the step found it. */
  readonly description: SecretDescription;
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
  const previous = await deps.secrets.getValue(secretId, { stage: 'AWSPREVIOUS' });
  if (previous && holdsAnotherKey(deps.config, previous.secretString, [current.secretString])) {
    await checkReadersCaughtUp(deps, ctx.description, 'start a rotation');
  }
  // Opt-in (config.fleet): no live reader may still write under the key the coming promotion unstages.
  await waitForFleet(deps, { act: 'start', current: current.secretString }, ctx.logFields);
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
  const passDeps = stepPassDeps(ctx);
  // The census, the catch-up and the full read's counts and key ranges are independent reads (the
  // catch-up changes values, never which rows hold one), so they run side by side within the step's
  // one pacer; the full read starts once the catch-up is done. At 100-250 ms a call, round trips in a
  // row were most of a small table's testSecret.
  const censusFailed = new AbortController();
  const census = checkUnlistedCiphertext(keys, passDeps).catch((error: unknown) => {
    // The step fails on it whatever the full read finds: stop reading (minutes on a large table).
    censusFailed.abort();
    throw error;
  });
  const reads = { ...passDeps, signal: censusFailed.signal };
  const catchUp = catchUpToPending(ctx, keys, reads);
  const reading = verifyAll(keys, { ...reads, progress: deps.progress }, { readAfter: catchUp });
  const [unlisted, caughtUp, read] = await Promise.allSettled([census, catchUp, reading]);
  // Ciphertext under a staged key in a column the config does not list would be stranded a rotation
  // later: the sampled census of the database (lambda/passes/db-census.ts) fails the step first.
  for (const outcome of [unlisted, caughtUp, read]) if (outcome.status === 'rejected') throw outcome.reason;
  const verified = (read as PromiseFulfilledResult<ColumnVerification[]>).value;
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
    if (readMarks(ctx.description).verified === ctx.token)
      await deps.secrets.untag(ctx.secretId, [MARK_TAGS.verified]);
    throw new VerificationError(`testSecret failed for version ${ctx.token}: ${problems.join('; ')}`);
  }
  // finishSecret promotes only a version this mark names: the proof that this check passed.
  await deps.secrets.tag(ctx.secretId, { [MARK_TAGS.verified]: ctx.token });
  deps.log.info('testSecret: every stored field decrypts with the pending version', {
    ...ctx.logFields,
    ...totals,
  });
}

/**
 * Moves AWSCURRENT to the pending version (the service moves AWSPREVIOUS), records the promotion, then
 * drops AWSPENDING. Promotion is the one irreversible act, so it first wants positive proof: testSecret
 * passed for this version, no reader within the reader bound may still encrypt with the key that the
 * move unstages, and no stored row sits under a key that would be unstaged (in SQL, for codecs with a
 * clear-text key id; Fernet rows were each read by testSecret).
 * @throws RotationStateError when testSecret has not passed or readers may still use the key;
 * StrandedRowsError when rows sit under a key the move would unstage.
 */
async function finishSecret(ctx: StepContext): Promise<void> {
  const { deps, secretId, token, currentVersionId } = ctx;
  if (readMarks(ctx.description).verified !== token) {
    throw new RotationStateError(
      `finishSecret: testSecret has not passed for version ${token} of secret ${secretId} (no ${MARK_TAGS.verified} mark names it); ` +
        'refusing to promote an untested version. The service runs testSecret before finishSecret; to drive the steps yourself, use `rekey resume`',
    );
  }
  const keys = await loadKeys(ctx);
  const [current, previous] = keys.sources;
  if (previous !== undefined && holdsAnotherKey(deps.config, previous, [keys.target, current ?? ''])) {
    await checkReadersCaughtUp(deps, ctx.description, 'promote version');
  }
  await checkKeysReachable(
    current === undefined ? [keys.target] : [keys.target, current],
    scanDeps(ctx),
    lastPromotion(ctx.description),
  );
  // Opt-in (config.fleet): every live reader holds the pending keys before they become the ones to write with.
  await waitForFleet(deps, { act: 'promote', pending: keys.target, current, previous }, ctx.logFields);
  // The reads above can take longer than `rekey abort` waits for running steps: look again, right
  // before the one irreversible act, that the version is still pending, unmarked and verified.
  const now = await deps.secrets.describe(secretId);
  const problem = stageProblem(now, { secretId, token, step: 'finishSecret' });
  if (problem) throw new RotationStateError(problem);
  if (readMarks(now).verified !== token) {
    throw new RotationStateError(
      `finishSecret: the ${MARK_TAGS.verified} mark no longer names version ${token} of secret ${secretId}; refusing to promote`,
    );
  }
  await deps.secrets.moveStage(secretId, 'AWSCURRENT', {
    toVersionId: token,
    fromVersionId: currentVersionId,
  });
  await completePromotion(deps, ctx.description, secretId, token);
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
  const pendingVersion = description.versions.find(
    (v) => v.stages.includes('AWSPENDING') && !v.stages.includes('AWSCURRENT'),
  );
  // A pending version without a value (RotateSecret registered it, createSecret refused or has not
  // run) holds no key any row can be under: the sweep goes on. Its writes are compare-and-swap under
  // AWSCURRENT, a source of any setSecret that starts meanwhile, so the two never undo each other.
  const pending =
    pendingVersion &&
    (await deps.secrets.getValue(secretId, { versionId: pendingVersion.versionId, stage: 'AWSPENDING' }));
  if (pendingVersion && pending) {
    deps.log.info('sweep: a rotation is in progress; nothing to do', {
      ...logFields,
      versionId: pendingVersion.versionId,
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
    description,
    logFields,
  };
  await checkKeysReachable([versions.target, ...versions.sources], scanDeps(ctx), lastPromotion(description));
  const report = await reencrypt(versions, { ...scanDeps(ctx), progress: deps.progress });
  deps.log.info('sweep: stragglers moved to AWSCURRENT', { ...logFields, ...summarize(report) });
  return report;
}

/**
 * The rest of a promotion once AWSCURRENT is on the token (also when a retry finds it there already):
 * the `rekey:promoted` mark, written after the move so its time is never earlier than the promotion,
 * then AWSPENDING off the token.
 */
async function completePromotion(
  deps: StepDeps,
  description: SecretDescription,
  secretId: string,
  token: string,
): Promise<void> {
  if (readMarks(description).promoted?.versionId !== token) {
    await deps.secrets.tag(secretId, promotedTag(token, deps.clock.now()));
  }
  const stages = description.versions.find((v) => v.versionId === token)?.stages ?? [];
  if (stages.includes('AWSPENDING'))
    await deps.secrets.moveStage(secretId, 'AWSPENDING', { fromVersionId: token });
}

/**
 * Whether `value` holds a data key (for some table's codec and key field) that none of `others` holds:
 * then unstaging it could strand rows. A value whose key field is unusable wrote nothing readable.
 */
function holdsAnotherKey(config: RekeyConfig, value: string, others: readonly string[]): boolean {
  const kid = (secretString: string, table: RekeyConfig['storedFields'][number]) => {
    const { codec, dataKeyField } = tableCodec(config, table);
    try {
      return dataKeyFromSecretString(secretString, dataKeyField, codec).kid;
    } catch (error) {
      if (error instanceof SecretFormatError) return undefined;
      throw error;
    }
  };
  return config.storedFields.some((table) => {
    const own = kid(value, table);
    return own !== undefined && others.every((other) => kid(other, table) !== own);
  });
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
  const passDeps = stepPassDeps(ctx);
  await checkKeysReachable([keys.target, ...keys.sources], passDeps, lastPromotion(ctx.description));
  return reencrypt(keys, { ...passDeps, progress: ctx.deps.progress });
}

/**
 * testSecret's catch-up pass, for rows the app wrote under AWSCURRENT or AWSPREVIOUS since setSecret.
 * When the key-id count found every row under the pending key (codecs with a clear-text key id), it
 * has nothing to move and reads nothing; the full read after it checks every row either way.
 */
async function catchUpToPending(ctx: StepContext, keys: KeyVersions, passDeps: PassDeps): Promise<void> {
  const reachable = [keys.target, ...keys.sources];
  const count = await checkKeysReachable(reachable, passDeps, lastPromotion(ctx.description));
  if (count.complete && count.underOthers === 0) return;
  await reencrypt(keys, { ...passDeps, progress: ctx.deps.progress });
}

/**
 * The collaborators of a step's passes: one pacer for all of them (they may run side by side) and the
 * configured tables opened once, through it.
 */
function stepPassDeps(ctx: StepContext): PassDeps {
  const base = scanDeps(ctx);
  const pacer = new Pacer(base.config.pacing, base.clock);
  const tables = openTablesOnce({ ...base, db: pacedRunner(base.db, pacer) });
  // Each pass awaits the tables and reports a failed lookup itself; this only keeps an early failure
  // from counting as unhandled.
  tables.catch(() => {});
  return { ...base, pacer, tables };
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

/** What the marks say of the last promotion, for a StrandedRowsError (a key last current before it is unstaged since). */
function lastPromotion(description: SecretDescription): string | undefined {
  const promoted = readMarks(description).promoted;
  if (!promoted) return undefined;
  return `the last promotion rekey recorded made version ${promoted.versionId} AWSCURRENT at ${new Date(promoted.at).toISOString()}: a key that was AWSCURRENT before the one it replaced has been unstaged since then at the latest`;
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
    if (incompleteRead(c)) {
      problems.push(
        `${where}: read ${c.rows} rows but the column held ${c.counted.before} before the read and ${c.counted.after} after ` +
          '(a read that misses rows proves nothing: a Data API answer without its records, ids that do not round-trip, or bulk deletes and inserts during the read)',
      );
    }
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
