import { RotationStateError } from './errors.js';
import type { Clock, SecretDescription, SecretsStore, SqlRunner } from './ports.js';
import { readMarks } from './rotation-marks.js';

/** What a running step re-checks about its version. */
export interface StageGuardTarget {
  readonly secretId: string;
  readonly token: string;
  readonly step: string;
}

/**
 * Why the step may not go on with this version, or `undefined` when it may: the version must still be
 * AWSPENDING (and not yet AWSCURRENT), and no `rekey abort` may be under way for it.
 */
export function stageProblem(description: SecretDescription, target: StageGuardTarget): string | undefined {
  const { secretId, token, step } = target;
  if (readMarks(description).aborting === token) {
    return `rekey abort is ending the rotation of version ${token} of secret ${secretId}; ${step} stops so that nothing more is written under its key`;
  }
  const stages = description.versions.find((v) => v.versionId === token)?.stages ?? [];
  if (!stages.includes('AWSPENDING') || stages.includes('AWSCURRENT')) {
    return `version ${token} of secret ${secretId} is no longer AWSPENDING (it is ${stages.length > 0 ? stages.join(', ') : 'unstaged'}); ${step} stops so that nothing more is written under its key`;
  }
  return undefined;
}

/**
 * The step's SQL runner, re-checking the version's stage at most once per `intervalMs` (not per row:
 * Secrets Manager's API rates are shared) before a statement is sent. A statement is only ever sent
 * within `intervalMs` of a check that passed, so an operator who took the rotation away need only wait
 * that interval plus one statement before no step can write any more.
 * @throws RotationStateError from `execute` once the version is no longer this step's to work on.
 */
export function guardedRunner(
  db: SqlRunner,
  deps: { readonly secrets: SecretsStore; readonly clock: Clock },
  target: StageGuardTarget,
  intervalMs: number,
  checkedAt: number,
): SqlRunner {
  let lastPass = checkedAt;
  let checking: Promise<void> | undefined;
  const check = async () => {
    const started = deps.clock.now();
    const problem = stageProblem(await deps.secrets.describe(target.secretId), target);
    if (problem) throw new RotationStateError(problem);
    lastPass = started;
  };
  const ensure = async () => {
    if (deps.clock.now() - lastPass < intervalMs) return;
    checking ??= check().finally(() => {
      checking = undefined;
    });
    await checking;
  };
  return {
    dialect: db.dialect,
    execute: async (sql, params, options) => {
      await ensure();
      return db.execute(sql, params, options);
    },
    begin: () => db.begin(),
    commit: (tx) => db.commit(tx),
    rollback: (tx) => db.rollback(tx),
  };
}
