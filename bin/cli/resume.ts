import type { Command } from 'commander';
import { ROTATION_STEPS, RotationStateError, runStep, stagedVersions } from '../../lambda/index.js';
import { awsClients, CLI_DEADLINE_MS, rotationDeps } from './clients.js';
import { loadConfigFile } from './config-file.js';
import { type CommandContext, printJson, printLines } from './context.js';
import { EXIT } from './exit-codes.js';
import { duration } from './format.js';
import { cliLog } from './log.js';
import { type CommonOptions, examples, secretIdFrom, withCommonOptions } from './options.js';
import { progressReporter } from './progress.js';

interface ResumeOptions extends CommonOptions {
  readonly secretId?: string;
  readonly config: string;
}

/** `rekey resume`: drives a pending rotation through its remaining steps in-process. */
export function registerResume(program: Command, ctx: CommandContext): void {
  withCommonOptions(
    program
      .command('resume')
      .summary('finish a pending or stuck rotation in-process, with the same token')
      .description(
        'Drives the pending rotation (AWSPENDING on a version other than AWSCURRENT) through ' +
          'createSecret, setSecret, testSecret and finishSecret in this process, with the same token and ' +
          "without the Lambda time limit, for tables too large for the service's retries. Every step " +
          'checks the state first, so steps already done cost nothing, and it is safe to interrupt and ' +
          'run again. Progress goes to stderr: a bar on a terminal, plain lines otherwise.',
      )
      .option('--secret-id <id>', 'name or ARN of the secret (default: secretId in --config)')
      .requiredOption('--config <file>', 'rekey config file (the same JSON the Lambda gets in REKEY_CONFIG)'),
  )
    .addHelpText(
      'after',
      examples(
        'rekey resume --secret-id prod/app --config rekey.json',
        'rekey resume --config rekey.json 2> resume.log',
      ),
    )
    .action(async (options: ResumeOptions) => {
      const config = await loadConfigFile(options.config);
      const secretId = secretIdFrom(options.secretId, config);
      const { clock } = ctx.io;
      const log = cliLog(ctx.io.stderr, options.verbose, clock.now);
      const deps = rotationDeps(config, awsClients(options), { clock, log });
      const { current, pending } = stagedVersions(await deps.secrets.describe(secretId));
      if (!pending) {
        throw new RotationStateError(
          `no rotation is pending for secret ${secretId} (no version other than AWSCURRENT is AWSPENDING); nothing to resume`,
        );
      }
      const text = (...lines: string[]) => {
        if (!options.json) printLines(ctx, ...lines);
      };
      text(
        `resuming the rotation of ${secretId}: version ${pending.versionId} is AWSPENDING, ` +
          `${current ? `version ${current.versionId} is AWSCURRENT` : 'no version is AWSCURRENT'}`,
      );
      const progress = progressReporter(ctx.io.stderr);
      const steps: { step: string; seconds: number }[] = [];
      const deadline = clock.now() + CLI_DEADLINE_MS;
      for (const step of ROTATION_STEPS) {
        const started = clock.now();
        try {
          await runStep(
            { Step: step, SecretId: secretId, ClientRequestToken: pending.versionId },
            { ...deps, deadline, progress: progress.phase(step) },
          );
        } catch (error) {
          progress.end();
          text(
            `stopped in ${step}; the rotation stays pending: fix the cause and run \`rekey resume\` again, or end it with \`rekey abort\``,
          );
          throw error;
        }
        progress.end();
        steps.push({ step, seconds: Math.round((clock.now() - started) / 1000) });
        text(`${step}: done in ${duration(clock.now() - started)}`);
      }
      text(`rotation finished: version ${pending.versionId} is AWSCURRENT`);
      if (options.json) {
        printJson(ctx, { secretId, versionId: pending.versionId, outcome: 'promoted', steps });
      }
      ctx.setExit(EXIT.ok);
    });
}
