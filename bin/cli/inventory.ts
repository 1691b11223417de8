import type { Command } from 'commander';
import {
  type CensusTotal,
  type ColumnCensus,
  keyIdsOf,
  loadStagedValues,
  stagedVersions,
  takeCensus,
  totalOf,
} from '../../lambda/index.js';
import { keyLines, keyVersionTable } from './census-view.js';
import { awsClients, CLI_DEADLINE_MS, rotationDeps } from './clients.js';
import { loadConfigFile } from './config-file.js';
import { type CommandContext, printJson, printLines } from './context.js';
import { EXIT } from './exit-codes.js';
import { cliLog } from './log.js';
import { type CommonOptions, examples, secretIdFrom, withCommonOptions } from './options.js';
import { progressReporter } from './progress.js';

interface InventoryOptions extends CommonOptions {
  readonly secretId?: string;
  readonly config: string;
}

/** What `rekey inventory --json` prints: key ids (public), version ids and counts; never a value. */
export interface InventoryReport {
  readonly secretId: string;
  readonly codec: string;
  /** Per staged version, the public ids of its data keys (one per codec and key field the tables use). */
  readonly keys: readonly {
    readonly label: string;
    readonly versionId: string;
    readonly keyIds: readonly string[];
  }[];
  readonly columns: readonly ColumnCensus[];
  readonly total: CensusTotal;
}

/** `rekey inventory`: read-only count of stored values by the key version they are under. */
export function registerInventory(program: Command, ctx: CommandContext): void {
  withCommonOptions(
    program
      .command('inventory')
      .summary('count stored values per column by key version: what will rotating touch?')
      .description(
        'Read-only. Counts the rows of every configured column by the key they are under: the ' +
          "AWSCURRENT, AWSPENDING or AWSPREVIOUS version, an unknown key, plaintext (not in the codec's " +
          'format), or NULL. For rk1 these are aggregate queries on the key id prefix; for Fernet every ' +
          'value is read and matched against the staged keys. A rotation re-encrypts the current and ' +
          'previous rows; plaintext and unknown rows fail testSecret unless the policies skip them.',
      )
      .option('--secret-id <id>', 'name or ARN of the secret (default: secretId in --config)')
      .requiredOption('--config <file>', 'rekey config file (the same JSON the Lambda gets in REKEY_CONFIG)'),
  )
    .addHelpText(
      'after',
      examples(
        'rekey inventory --config rekey.json',
        "rekey inventory --config rekey.json --json | jq '.total'",
      ),
    )
    .action(async (options: InventoryOptions) => {
      const config = await loadConfigFile(options.config);
      const secretId = secretIdFrom(options.secretId, config);
      const { clock } = ctx.io;
      const log = cliLog(ctx.io.stderr, options.verbose, clock.now);
      const deps = rotationDeps(config, awsClients(options), { clock, log });
      const versions = stagedVersions(await deps.secrets.describe(secretId));
      const staged = await loadStagedValues(deps.secrets, secretId, config, versions);
      const progress = progressReporter(ctx.io.stderr);
      const columns = await takeCensus(staged, {
        ...deps,
        deadline: clock.now() + CLI_DEADLINE_MS,
        logFields: { step: 'inventory', secretId },
        progress: progress.phase('inventory'),
      }).finally(() => progress.end());
      const report: InventoryReport = {
        secretId,
        codec: config.codec,
        keys: staged.map((s) => ({
          label: s.label,
          versionId: s.versionId,
          keyIds: keyIdsOf(config, s.secretString),
        })),
        columns,
        total: totalOf(columns),
      };
      if (options.json) printJson(ctx, report);
      else printLines(ctx, ...renderInventory(report, config.policies));
      ctx.setExit(EXIT.ok);
    });
}

function renderInventory(
  r: InventoryReport,
  policies: { readonly plaintext: string; readonly undecryptable: string },
): string[] {
  const lines = [`secret ${r.secretId}, codec ${r.codec}`];
  lines.push(...keyLines(r.keys));
  lines.push('', keyVersionTable(r.columns, r.total));
  for (const [prefix, n] of Object.entries(r.total.unknownKeys))
    lines.push(`unknown key ${prefix}: ${n} values (no staged version holds it; see docs/operations.md)`);
  const t = r.total;
  lines.push(
    '',
    `A rotation re-encrypts ${t.current + t.previous} values (current and previous)` +
      `${t.pending > 0 ? `; ${t.pending} are already under the pending key` : ''}.`,
  );
  if (t.plaintext > 0)
    lines.push(
      `${t.plaintext} plaintext values: testSecret ${policies.plaintext === 'fail' ? 'fails on them' : 'skips them'} (policies.plaintext).`,
    );
  if (t.unknown > 0)
    lines.push(
      `${t.unknown} values under an unknown key: ${policies.undecryptable === 'fail' ? 'the rotation refuses to run or testSecret fails' : 'testSecret skips them'} (policies.undecryptable).`,
    );
  return lines;
}
