import type { Command } from 'commander';
import { RotationStateError } from '../../lambda/errors.js';
import { reencrypt } from '../../lambda/reencrypt.js';
import { awsClients, CLI_DEADLINE_MS, rotationDeps } from './clients.js';
import { loadConfigFile } from './config-file.js';
import { type CommandContext, printJson, printLines } from './context.js';
import { EXIT, RotationFailedError } from './exit-codes.js';
import { type CensusDeps, keyIdsOf, type StagedValue, takeCensus } from '../../lambda/census.js';
import { cliLog } from './log.js';
import { type CommonOptions, examples, secretIdFrom, withCommonOptions } from './options.js';
import { type ProgressReporter, progressReporter } from './progress.js';
import { loadStagedValues, stagedVersions } from '../../lambda/staged-versions.js';

interface AbortOptions extends CommonOptions {
  readonly secretId?: string;
  readonly config: string;
}

/** What `rekey abort --json` prints. */
export interface AbortReport {
  readonly secretId: string;
  readonly pendingVersionId: string;
  readonly currentVersionId: string;
  /** Rows re-encrypted from the pending key back to the current key. */
  readonly movedBack: number;
  readonly outcome: 'aborted';
}

/** `rekey abort`: ends a pending rotation without promoting it, leaving no row under its key. */
export function registerAbort(program: Command, ctx: CommandContext): void {
  withCommonOptions(
    program
      .command('abort')
      .summary('end a pending rotation without promoting it, moving its rows back first')
      .description(
        'Ends a rotation that must not finish. Rows already re-encrypted under the pending key are ' +
          're-encrypted back to the AWSCURRENT key (compare-and-swap, as the rotation does), a count ' +
          'proves none is left under the pending key, and only then is AWSPENDING removed from the ' +
          'pending version. Run it while no rotation step is running (`rekey status`; the rotation ' +
          "function's log). Refuses when nothing is pending.",
      )
      .option('--secret-id <id>', 'name or ARN of the secret (default: secretId in --config)')
      .requiredOption('--config <file>', 'rekey config file (the same JSON the Lambda gets in REKEY_CONFIG)'),
  )
    .addHelpText('after', examples('rekey abort --secret-id prod/app --config rekey.json'))
    .action(async (options: AbortOptions) => {
      const config = await loadConfigFile(options.config);
      const secretId = secretIdFrom(options.secretId, config);
      const { clock } = ctx.io;
      const log = cliLog(ctx.io.stderr, options.verbose, clock.now);
      const deps = rotationDeps(config, awsClients(options), { clock, log });
      const versions = stagedVersions(await deps.secrets.describe(secretId));
      const { pending, current } = versions;
      if (!pending) {
        throw new RotationStateError(
          `no rotation is pending for secret ${secretId} (no version other than AWSCURRENT is AWSPENDING); nothing to abort`,
        );
      }
      if (!current) {
        throw new RotationStateError(`secret ${secretId} has no AWSCURRENT version to move rows back to`);
      }
      const text = (...lines: string[]) => {
        if (!options.json) printLines(ctx, ...lines);
      };
      const staged = await loadStagedValues(deps.secrets, secretId, config, versions);
      const currentValue = staged.find((k) => k.label === 'current');
      const pendingValue = staged.find((k) => k.label === 'pending');
      if (!currentValue) throw new RotationStateError(`secret ${secretId} has no AWSCURRENT value`);
      // Two versions can hold the same keys (the service's configuration test): nothing to move then.
      const sameKeys =
        pendingValue !== undefined &&
        keyIdsOf(config, pendingValue.secretString).join() ===
          keyIdsOf(config, currentValue.secretString).join();
      const movable = pendingValue !== undefined && !sameKeys ? pendingValue : undefined;
      const scan: CensusDeps = {
        ...deps,
        deadline: clock.now() + CLI_DEADLINE_MS,
        logFields: { step: 'abort', secretId },
      };
      const progress = progressReporter(ctx.io.stderr);
      let movedBack = 0;
      if (movable) {
        text(
          `moving rows under the pending key (version ${pending.versionId}) back to the current key (version ${current.versionId})`,
        );
        movedBack += await moveBack(currentValue, movable, scan, progress);
        const left = await rowsUnder(staged, scan);
        if (left > 0) {
          throw new RotationFailedError(
            `${left} rows are still under the pending key (is a rotation step still running?); AWSPENDING was left in place: run \`rekey abort\` again`,
          );
        }
        text(`verified: no stored value is under the pending key (${movedBack} moved back)`);
      } else {
        text(
          pendingValue
            ? 'the pending version holds the current key: no row to move'
            : 'the pending version has no value yet: no row can be under its key',
        );
      }
      await deps.secrets.moveStage(secretId, 'AWSPENDING', { fromVersionId: pending.versionId });
      text(`removed AWSPENDING from version ${pending.versionId}`);
      if (movable) {
        // A rotation step that was still running may have moved rows after the count above; with the
        // label gone they would be under an unstaged key, so look once more and bring them back.
        const late = await rowsUnder(staged, scan);
        if (late > 0) {
          movedBack += await moveBack(currentValue, movable, scan, progress);
          const left = await rowsUnder(staged, scan);
          throw new RotationFailedError(
            `${late} rows were moved to the pending key while abort ran (a rotation step was still running); ` +
              `they were moved back after AWSPENDING was removed${left > 0 ? `, but ${left} are still under it` : ''}. ` +
              'Make sure no rotation is running, then check with `rekey inventory` (docs/operations.md, "Rows under an unstaged key")',
          );
        }
      }
      text(`aborted: version ${current.versionId} stays AWSCURRENT; the next rotation starts afresh`);
      if (options.json) {
        printJson(ctx, {
          secretId,
          pendingVersionId: pending.versionId,
          currentVersionId: current.versionId,
          movedBack,
          outcome: 'aborted',
        } satisfies AbortReport);
      }
      ctx.setExit(EXIT.ok);
    });
}

/** Re-encrypts rows under the pending key with the current key; returns how many were rewritten. */
async function moveBack(
  current: StagedValue,
  pending: StagedValue,
  deps: CensusDeps,
  progress: ProgressReporter,
): Promise<number> {
  try {
    const report = await reencrypt(
      { target: current.secretString, sources: [pending.secretString] },
      { ...deps, progress: progress.phase('abort') },
    );
    return report.columns.reduce((s, c) => s + c.rewritten, 0);
  } finally {
    progress.end();
  }
}

/** Stored values under the pending key, counted per label (current first, so shared keys do not count). */
async function rowsUnder(staged: readonly StagedValue[], deps: CensusDeps): Promise<number> {
  const census = await takeCensus(staged, { ...deps, progress: undefined });
  return census.reduce((s, c) => s + c.pending, 0);
}
