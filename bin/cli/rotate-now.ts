import { randomUUID } from 'node:crypto';
import { DescribeSecretCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import type { Command } from 'commander';
import { RotationStateError, stagedVersions } from '../../lambda/index.js';
import { type AwsClients, awsClients } from './clients.js';
import { loadConfigFile } from './config-file.js';
import { type CommandContext, printJson, printLines } from './context.js';
import { EXIT, RotationFailedError, WaitTimeoutError } from './exit-codes.js';
import { duration } from './format.js';
import { failureFromTags, type LocalFailure } from './local-failure.js';
import { cliLog } from './log.js';
import { type CommonOptions, examples, parseSeconds, secretIdFrom, withCommonOptions } from './options.js';
import { type RowCounter, rowCounter } from './row-counter.js';

interface RotateNowOptions extends CommonOptions {
  readonly secretId?: string;
  readonly wait?: boolean;
  readonly timeout: number;
  readonly poll: number;
  readonly config?: string;
}

/** One thing `--wait` saw happen. */
export interface RotationEventSeen {
  readonly event:
    | 'started'
    | 'pending'
    | 'rows'
    | 'promoted'
    | 'abandoned'
    | 'superseded'
    | 'failed'
    | 'timeout'
    | 'note';
  readonly elapsedSeconds: number;
  readonly message: string;
  readonly rows?: { readonly done: number; readonly total: number };
}

/** What `rekey rotate-now --json` prints. */
export interface RotateNowReport {
  readonly secretId: string;
  readonly versionId: string;
  readonly outcome: 'started' | 'promoted' | 'abandoned' | 'superseded' | 'failed' | 'timeout';
  readonly events: readonly RotationEventSeen[];
  /** With outcome `failed`: the step and the error, as the local Secrets Manager recorded them. */
  readonly failure?: LocalFailure;
}

/** `rekey rotate-now`: starts an immediate rotation and, with --wait, follows it to its end. */
export function registerRotateNow(program: Command, ctx: CommandContext): void {
  withCommonOptions(
    program
      .command('rotate-now')
      .summary('start a rotation now; with --wait, follow it until the new version is current')
      .description(
        'Starts an immediate rotation (RotateSecret with RotateImmediately). With --wait, follows it: ' +
          'the pending value created, rows under the new key (with --config, for codecs with a key id ' +
          'such as rk1), and the promotion, until AWSCURRENT moves to the new version (exit 0), AWSPENDING ' +
          'is removed without promotion or `rekey local` reports the rotation failed (exit 1, naming the ' +
          'step and the error), or the timeout passes (exit 3; the rotation itself goes on; the message ' +
          "says where the rotation function's log is).",
      )
      .option('--secret-id <id>', 'name or ARN of the secret (default: secretId in --config)')
      .option('--wait', 'follow the rotation until it ends')
      .option('--timeout <seconds>', 'with --wait, give up after this long', parseSeconds, 900)
      .option('--poll <seconds>', 'with --wait, seconds between looks at the secret', parseSeconds, 5)
      .option('--config <file>', 'rekey config file: with --wait, also count rows under the new key'),
  )
    .addHelpText(
      'after',
      examples(
        'rekey rotate-now --secret-id prod/app',
        'rekey rotate-now --secret-id prod/app --wait --config rekey.json --timeout 1800',
      ),
    )
    .action(async (options: RotateNowOptions) => {
      const config = options.config ? await loadConfigFile(options.config) : undefined;
      const secretId = secretIdFrom(options.secretId, config);
      const clients = awsClients(options);
      const versionId = await startRotation(clients, secretId);
      const events: RotationEventSeen[] = [];
      const started = ctx.io.clock.now();
      const see = (e: Omit<RotationEventSeen, 'elapsedSeconds'>) => {
        const seen = { ...e, elapsedSeconds: Math.round((ctx.io.clock.now() - started) / 1000) };
        events.push(seen);
        if (!options.json)
          printLines(
            ctx,
            options.wait ? `[${duration(ctx.io.clock.now() - started).padStart(4)}] ${e.message}` : e.message,
          );
      };
      see({ event: 'started', message: `rotation started: version ${versionId} of ${secretId}` });
      let outcome: RotateNowReport['outcome'] = 'started';
      let failure: Error | undefined;
      let failedAt: LocalFailure | undefined;
      if (options.wait) {
        const counter = config
          ? rowCounter(
              config,
              clients,
              secretId,
              versionId,
              cliLog(ctx.io.stderr, options.verbose, ctx.io.clock.now),
              ctx.io.clock,
            )
          : undefined;
        ({ outcome, failure, failedAt } = await follow(
          ctx,
          clients,
          secretId,
          versionId,
          options,
          see,
          counter,
        ));
      }
      if (options.json) {
        printJson(ctx, {
          secretId,
          versionId,
          outcome,
          events,
          ...(failedAt ? { failure: failedAt } : {}),
        } satisfies RotateNowReport);
      }
      if (failure) throw failure;
      if (!options.json) {
        printLines(
          ctx,
          outcome === 'promoted'
            ? `rotation finished in ${duration(ctx.io.clock.now() - started)}: version ${versionId} is AWSCURRENT`
            : 'follow it with `rekey status`, or run this command with --wait',
        );
      }
      ctx.setExit(EXIT.ok);
    });
}

/**
 * Checks that a rotation can start, then starts it with a fresh token.
 * @throws RotationStateError when rotation is off or a rotation is already pending.
 */
async function startRotation(clients: AwsClients, secretId: string): Promise<string> {
  const described = await clients.secretsManager.send(new DescribeSecretCommand({ SecretId: secretId }));
  if (!described.RotationEnabled) {
    // RotateSecret would turn a disabled rotation back on as a side effect; that is not this command's call.
    throw new RotationStateError(
      `rotation is not enabled for secret ${secretId}; set it up with the rekey stack (or turn it back on) first`,
    );
  }
  const { pending } = stagedVersions({ versions: versionsOf(described.VersionIdsToStages) });
  if (pending) {
    throw new RotationStateError(
      `a rotation is already pending for secret ${secretId} (version ${pending.versionId}); ` +
        'see `rekey status`, finish it with `rekey resume` or end it with `rekey abort`',
    );
  }
  const token = randomUUID();
  const out = await clients.secretsManager.send(
    new RotateSecretCommand({ SecretId: secretId, ClientRequestToken: token, RotateImmediately: true }),
  );
  return out.VersionId ?? token;
}

/** Polls the secret's labels until the new version is current, abandoned, or the timeout passes. */
async function follow(
  ctx: CommandContext,
  clients: AwsClients,
  secretId: string,
  versionId: string,
  options: RotateNowOptions,
  see: (e: Omit<RotationEventSeen, 'elapsedSeconds'>) => void,
  counter: RowCounter | undefined,
): Promise<{ outcome: RotateNowReport['outcome']; failure?: Error; failedAt?: LocalFailure }> {
  const { clock } = ctx.io;
  const started = clock.now();
  const deadline = started + options.timeout * 1000;
  let seenPending = false;
  let lastRows = '';
  let firstCurrent: string | undefined;
  for (;;) {
    const described = await clients.secretsManager.send(new DescribeSecretCommand({ SecretId: secretId }));
    const versions = versionsOf(described.VersionIdsToStages);
    const stages = versions.find((v) => v.versionId === versionId)?.stages ?? [];
    const current = versions.find((v) => v.stages.includes('AWSCURRENT'))?.versionId;
    firstCurrent ??= current;
    if (stages.includes('AWSCURRENT')) {
      see({ event: 'promoted', message: `promoted: version ${versionId} is AWSCURRENT` });
      return { outcome: 'promoted' };
    }
    if (current !== firstCurrent) {
      const message = `rotation failed: AWSCURRENT moved to version ${current ?? '(none)'}, not to ${versionId}; someone else changed the secret`;
      see({ event: 'superseded', message });
      return { outcome: 'superseded', failure: new RotationFailedError(message) };
    }
    const failed = stages.includes('AWSPENDING') ? failureFromTags(described.Tags, versionId) : undefined;
    if (failed) {
      const message =
        `rotation failed in ${failed.step} (attempt ${failed.attempt}, as \`rekey local\` recorded it): ${failed.error}. ` +
        `Version ${versionId} stays AWSPENDING: fix the cause, then \`rekey resume\` finishes it or \`rekey abort\` ends it`;
      see({ event: 'failed', message });
      return { outcome: 'failed', failure: new RotationFailedError(message), failedAt: failed };
    }
    if (stages.includes('AWSPENDING')) {
      if (!seenPending) {
        seenPending = true;
        see({ event: 'pending', message: `pending value created: version ${versionId} is AWSPENDING` });
      }
      const counted = await counter?.count();
      if (counted?.note) see({ event: 'note', message: counted.note });
      const rows = counted?.rows;
      if (rows && `${rows.done}/${rows.total}` !== lastRows) {
        lastRows = `${rows.done}/${rows.total}`;
        see({ event: 'rows', message: `rows under the new key: ${lastRows}`, rows });
      }
    } else if (seenPending) {
      const message =
        `rotation failed: AWSPENDING was removed from version ${versionId} without promoting it; ` +
        'rows already moved to its key may need recovery: see `rekey status` and docs/operations.md. ' +
        whereTheLogIs(described.RotationLambdaARN);
      see({ event: 'abandoned', message });
      return { outcome: 'abandoned', failure: new RotationFailedError(message) };
    }
    if (clock.now() >= deadline) {
      const message =
        `gave up waiting after ${duration(clock.now() - started)}: version ${versionId} ` +
        `${seenPending ? 'is still AWSPENDING' : 'has not appeared yet'}; the service goes on retrying. ` +
        `${whereTheLogIs(described.RotationLambdaARN)} \`rekey status\` shows the version AWSPENDING and ` +
        "since when, and health 'failing' once the next rotation date has passed";
      see({ event: 'timeout', message });
      return { outcome: 'timeout', failure: new WaitTimeoutError(message) };
    }
    await clock.sleep(Math.min(options.poll * 1000, Math.max(0, deadline - clock.now())));
  }
}

/**
 * Where the step that failed and its error are written: on AWS the rotation function's log (its
 * `step failed` line names the step's error and reason) and CloudTrail's RotationFailed events; locally,
 * the lines `rekey local` writes.
 */
function whereTheLogIs(lambdaArn: string | undefined): string {
  const name = lambdaArn?.split(':')[6];
  const group = name
    ? `CloudWatch Logs group /aws/lambda/${name}`
    : "the rotation function's CloudWatch Logs group";
  return (
    `The failed step and its error are in the rotation function's log (${group}, 'step failed' lines; ` +
    'CloudTrail records RotationFailed events), or on stderr of `rekey local`.'
  );
}

function versionsOf(map: Record<string, string[]> | undefined): { versionId: string; stages: string[] }[] {
  return Object.entries(map ?? {}).map(([versionId, stages]) => ({ versionId, stages }));
}
