import { AbortRaceError, RotationStateError } from './errors.js';
import { keyIdsOf } from './passes/census.js';
import { moveBack, rowsUnderPending } from './passes/move-back.js';
import { MARK_TAGS, readMarks } from './rotation-marks.js';
import { loadStagedValues, stagedVersions } from './staged-versions.js';
import type { StepDeps } from './steps.js';

/**
 * How long a statement that a step sent just before it last passed its stage check may still run: the
 * Data API ends a statement after 45 seconds; the rest covers the request's way there and back.
 */
export const STATEMENT_ALLOWANCE_MS = 60_000;

/** What an abort did. */
export interface AbortReport {
  readonly secretId: string;
  readonly pendingVersionId: string;
  readonly currentVersionId: string;
  /** Rows re-encrypted from the pending key back to the current key. */
  readonly movedBack: number;
  readonly outcome: 'aborted';
}

/** What abort says as it goes, for the CLI to print (never a value). */
export type AbortNotice = (line: string) => void;

/**
 * Ends a pending rotation without promoting it, keeping the invariant at every instant:
 * 1. marks the rotation as being aborted (`rekey:aborting`), so that running steps stop at their next
 *    stage check and retried ones refuse to start;
 * 2. waits out the steps' check interval plus one statement, after which no step can still write;
 * 3. moves the rows under the pending key back to the current key (compare-and-swap, as the rotation
 *    writes) and counts that none is left;
 * 4. only then removes AWSPENDING (while rows were under the pending key it stayed staged), and
 *    clears the mark.
 * Safe to run again after a failure or a crash: every part checks before it acts.
 * @throws RotationStateError when nothing is pending, or when rows are still under the pending key
 * after the move (AWSPENDING and the mark stay, so the rows stay readable and no step resumes).
 */
export async function abortRotation(
  secretId: string,
  deps: StepDeps,
  notice: AbortNotice = () => {},
): Promise<AbortReport> {
  const { secrets, clock, config } = deps;
  const description = await secrets.describe(secretId);
  const versions = stagedVersions(description);
  const { pending, current } = versions;
  if (!pending) {
    throw new RotationStateError(
      `no rotation is pending for secret ${secretId} (no version other than AWSCURRENT is AWSPENDING); nothing to abort`,
    );
  }
  if (!current)
    throw new RotationStateError(`secret ${secretId} has no AWSCURRENT version to move rows back to`);
  if (readMarks(description).aborting !== pending.versionId) {
    await secrets.tag(secretId, { [MARK_TAGS.aborting]: pending.versionId });
  }
  const waitMs = config.stageCheckIntervalMs + STATEMENT_ALLOWANCE_MS;
  notice(
    `marked version ${pending.versionId} as being aborted; waiting ${Math.ceil(waitMs / 1000)} s for running rotation steps to notice and stop`,
  );
  await clock.sleep(waitMs);

  const staged = await loadStagedValues(secrets, secretId, config, versions);
  const currentValue = staged.find((k) => k.label === 'current');
  const pendingValue = staged.find((k) => k.label === 'pending');
  if (!currentValue) throw new RotationStateError(`secret ${secretId} has no AWSCURRENT value`);
  // Two versions can hold the same keys (the service's configuration test): nothing to move then.
  const movable =
    pendingValue !== undefined &&
    keyIdsOf(config, pendingValue.secretString).join() !== keyIdsOf(config, currentValue.secretString).join();
  const pass = { ...deps, logFields: { step: 'abort', secretId } };
  let movedBack = 0;
  if (movable) {
    notice(
      `moving rows under the pending key (version ${pending.versionId}) back to the current key (version ${current.versionId})`,
    );
    movedBack = await moveBack(currentValue, pendingValue, pass);
    const left = await rowsUnderPending(staged, pass);
    if (left > 0) {
      throw new RotationStateError(
        `${left} rows are still under the pending key of version ${pending.versionId} after moving them back ` +
          '(a rotation step may still be running, or the app writes under that key); AWSPENDING and the abort mark ' +
          'stay in place so the rows stay readable: run `rekey abort` again',
      );
    }
    notice(`verified: no stored value is under the pending key (${movedBack} moved back)`);
  } else {
    notice(
      pendingValue
        ? 'the pending version holds the current key: no row to move'
        : 'the pending version has no value yet: no row can be under its key',
    );
  }
  await secrets.moveStage(secretId, 'AWSPENDING', { fromVersionId: pending.versionId });
  notice(`removed AWSPENDING from version ${pending.versionId}`);
  if (movable) {
    // A writer that ignores the mark (a rotation function of an older rekey during an upgrade) may have
    // moved rows after the count: look once more, bring them back, and say so rather than succeed.
    const late = await rowsUnderPending(staged, pass);
    if (late > 0) {
      movedBack += await moveBack(currentValue, pendingValue, pass);
      const left = await rowsUnderPending(staged, pass);
      throw new AbortRaceError(late, left);
    }
  }
  await secrets.untag(secretId, [MARK_TAGS.aborting, MARK_TAGS.verified]);
  return {
    secretId,
    pendingVersionId: pending.versionId,
    currentVersionId: current.versionId,
    movedBack,
    outcome: 'aborted',
  };
}
