import type { Command } from 'commander';
import { AbortRaceError, type AbortReport, abortRotation } from '../../lambda/index.js';
import { awsClients, CLI_DEADLINE_MS, rotationDeps } from './clients.js';
import { loadConfigFile } from './config-file.js';
import { type CommandContext, printJson, printLines } from './context.js';
import { EXIT, RotationFailedError } from './exit-codes.js';
import { cliLog } from './log.js';
import { type CommonOptions, examples, secretIdFrom, withCommonOptions } from './options.js';
import { progressReporter } from './progress.js';

interface AbortOptions extends CommonOptions {
  readonly secretId?: string;
  readonly config: string;
}

/** `rekey abort`: ends a pending rotation without promoting it, leaving no row under its key. */
export function registerAbort(program: Command, ctx: CommandContext): void {
  withCommonOptions(
    program
      .command('abort')
      .summary('end a pending rotation without promoting it, moving its rows back first')
      .description(
        'Ends a rotation that must not finish. First it marks the rotation as being aborted (a tag on ' +
          'the secret): running rotation steps notice within stageCheckIntervalMs and stop, and retried ' +
          'ones refuse to start. It waits that interval plus one statement (about 70 s by default) so ' +
          'that no step can still write, re-encrypts the rows already under the pending key back to the ' +
          'AWSCURRENT key (compare-and-swap, as the rotation does), proves by a count that none is left, ' +
          'and only then removes AWSPENDING. Safe to run again after a failure. Refuses when nothing is ' +
          'pending.',
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
      const progress = progressReporter(ctx.io.stderr);
      const text = (...lines: string[]) => {
        if (!options.json) printLines(ctx, ...lines);
      };
      let report: AbortReport;
      try {
        report = await abortRotation(
          secretId,
          {
            ...deps,
            deadline: clock.now() + CLI_DEADLINE_MS,
            progress: progress.phase('abort: moving rows back'),
          },
          (line) => text(line),
        );
      } catch (error) {
        if (error instanceof AbortRaceError) throw new RotationFailedError(error.message, { cause: error });
        throw error;
      } finally {
        progress.end();
      }
      text(`aborted: version ${report.currentVersionId} stays AWSCURRENT; the next rotation starts afresh`);
      if (options.json) printJson(ctx, report);
      ctx.setExit(EXIT.ok);
    });
}
