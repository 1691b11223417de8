import { DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type Command, InvalidArgumentError } from 'commander';
import {
  type BaseDeps,
  DEFAULT_LATENCY_MS,
  describeFound,
  loadStagedValues,
  type ProgressSink,
  planRotation,
  type RotationPlan,
  type RotationRules,
  type StepPlan,
  stagedVersions,
} from '../../lambda/index.js';
import { keyLines, keyVersionTable } from './census-view.js';
import { awsClients, CLI_DEADLINE_MS, rotationDeps } from './clients.js';
import { loadConfigFile } from './config-file.js';
import { type CommandContext, printJson, printLines } from './context.js';
import { EXIT } from './exit-codes.js';
import { table } from './format.js';
import { cliLog } from './log.js';
import { type CommonOptions, examples, secretIdFrom, withCommonOptions } from './options.js';
import { progressReporter } from './progress.js';

interface PlanCommandOptions extends CommonOptions {
  readonly secretId?: string;
  readonly config: string;
  readonly latencyMs: number;
  readonly full?: boolean;
}

/** `rekey plan`: read-only; what a rotation will touch, cost and invalidate, and what would make it fail. */
export function registerPlan(program: Command, ctx: CommandContext): void {
  withCommonOptions(
    program
      .command('plan')
      .summary(
        'before rotating: rows by key version, predicted calls and time, what it invalidates, warnings',
      )
      .description(
        'Read-only. For every configured column, rows by key version (as `rekey inventory` counts them); ' +
          'the Data API calls each rotation step will make, with the same page sizing the rotation uses, ' +
          'the time at a per-call latency and the Lambda invocations; what rotating each template field ' +
          'invalidates; and a census of the whole database for ciphertext under a staged key in columns ' +
          'the config does not list. Exits 1 when something would make the rotation fail or leave ' +
          'values it cannot read later (the warnings marked BLOCKS), 0 otherwise. See docs/plan.md.',
      )
      .option('--secret-id <id>', 'name or ARN of the secret (default: secretId in --config)')
      .requiredOption('--config <file>', 'rekey config file (the same JSON the Lambda gets in REKEY_CONFIG)')
      .option(
        '--latency-ms <n>',
        `Data API latency per call for the time estimate (default: ${DEFAULT_LATENCY_MS}, the benchmark's)`,
        parseLatency,
        DEFAULT_LATENCY_MS,
      )
      .option('--full', 'census: read every Fernet value of unlisted columns (exact) instead of a sample'),
  )
    .addHelpText(
      'after',
      examples(
        'rekey plan --config rekey.json',
        'rekey plan --config rekey.json --latency-ms 25 --full',
        "rekey plan --config rekey.json --json | jq '.warnings[] | select(.blocks)'",
      ),
    )
    .action(async (options: PlanCommandOptions) => {
      const config = await loadConfigFile(options.config);
      const secretId = secretIdFrom(options.secretId, config);
      const { clock } = ctx.io;
      const log = cliLog(ctx.io.stderr, options.verbose, clock.now);
      const clients = awsClients(options);
      const deps = rotationDeps(config, clients, { clock, log });
      const progress = progressReporter(ctx.io.stderr);
      const plan = await planOf(deps, clients.secretsManager, secretId, {
        latencyMs: options.latencyMs,
        full: options.full === true,
        progress: progress.phase('plan'),
      }).finally(() => progress.end());
      if (options.json) printJson(ctx, plan);
      else printLines(ctx, ...renderPlan(plan));
      ctx.setExit(plan.blocked ? EXIT.failed : EXIT.ok);
    });
}

/**
 * Reads the secret's staging labels and rotation rules (DescribeSecret, through the SDK: the core's
 * SecretsStore does not return rotation rules), the staged values, then computes the plan. Read-only.
 */
export async function planOf(
  deps: BaseDeps,
  client: SecretsManagerClient,
  secretId: string,
  options: { readonly latencyMs?: number; readonly full?: boolean; readonly progress?: ProgressSink },
): Promise<RotationPlan> {
  const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  const versions = stagedVersions({
    versions: Object.entries(described.VersionIdsToStages ?? {}).map(([versionId, stages]) => ({
      versionId,
      stages: stages ?? [],
    })),
  });
  const staged = await loadStagedValues(deps.secrets, secretId, deps.config, versions);
  const rules: RotationRules | undefined = described.RotationEnabled
    ? {
        automaticallyAfterDays: described.RotationRules?.AutomaticallyAfterDays,
        scheduleExpression: described.RotationRules?.ScheduleExpression,
      }
    : undefined;
  return planRotation(
    staged,
    {
      ...deps,
      deadline: deps.clock.now() + CLI_DEADLINE_MS,
      logFields: { step: 'plan', secretId },
      progress: options.progress,
    },
    { latencyMs: options.latencyMs, full: options.full, secretId, rotationRules: rules },
  );
}

/** The human view of a plan. */
export function renderPlan(p: RotationPlan): string[] {
  const lines = [`plan for secret ${p.secretId ?? '(none)'}`];
  lines.push(...keyLines(p.keys));
  lines.push('', 'Rows by key version', keyVersionTable(p.columns, p.total));

  const m = p.model;
  const step = (name: string, s: StepPlan) => [
    name,
    ...[
      s.calls.catalog,
      s.calls.counts,
      s.calls.reads,
      s.calls.writes,
      s.calls.census,
      s.calls.total,
      s.rows,
    ].map(String),
    seconds(s.timeMs.total),
  ];
  lines.push(
    '',
    `Predicted Data API calls (pages of up to ${m.paging.maxRows} rows or ${Math.round(m.paging.maxBytes / 1024)} KiB; ` +
      `time: ${m.latencyMs} ms per call, plus ${m.reencryptMsPerRow} ms per re-encrypted row and ${m.readMsPerRow} ms per row read)`,
    table(
      ['STEP', 'CATALOG', 'COUNTS', 'READS', 'WRITES', 'CENSUS', 'CALLS', 'ROWS', 'TIME'],
      [
        step('setSecret', p.steps.setSecret),
        step('testSecret', p.steps.testSecret),
        step('finishSecret', p.steps.finishSecret),
      ],
    ),
    `createSecret runs no SQL. setSecret re-encrypts ${p.passes.reduce((n, c) => n + c.setSecret.rowsRewritten, 0)} rows.`,
    `Lambda: setSecret takes ${p.invocations.setSecret} invocation${p.invocations.setSecret === 1 ? '' : 's'} of ` +
      `${minutes(p.invocations.budgetMs)} (15 min less safetyMarginMs); testSecret ` +
      `${p.invocations.testSecretFits ? 'fits one' : 'does NOT fit one (see the warnings)'}.`,
    `Schedule: ${p.schedule.expression ?? 'no rotation schedule (rotation not enabled)'}; rotations must be at least ` +
      `${minutes(p.schedule.readerBoundMs)} apart (readers.maxAgeMs + readers.marginMs).`,
  );

  lines.push('', 'What a rotation invalidates, per template field');
  for (const f of p.invalidates) {
    const role =
      f.role === 'data-key'
        ? `data key of ${f.usedBy.join(', ')}`
        : f.role === 'token'
          ? 'signing secret (no table is encrypted with it)'
          : 'a key no configured table uses';
    lines.push(
      `  ${f.field} (${f.kind}, ${role}): rekey ${f.rekeyPart}.`,
      `    keeps working: ${f.keepsWorking}.`,
      `    stops working: ${f.stopsWorking}.`,
    );
    if (f.note) lines.push(`    note: ${f.note}.`);
  }
  lines.push('  Fields outside the template are carried over unchanged.');

  const c = p.census;
  lines.push(
    '',
    `Census of the database: ${c.checked} unlisted columns checked in ${c.cost.statements} statements, ${c.cost.rowsRead} rows read, ` +
      `${c.cost.durationMs} ms; Fernet values ${c.full ? 'all read' : `sampled, up to ${c.sampleRows} per column`}; left out: ` +
      `${c.skipped.configured} configured, ${c.skipped.ignored} ignored, ${c.skipped.tooShort} too short for a ciphertext`,
  );
  if (c.found.length === 0) lines.push('  nothing in rk1 or Fernet format outside the configured columns');
  for (const f of c.found) lines.push(`  ${describeFound(f)}`);
  for (const u of c.unchecked) lines.push(`  not checked: ${u.schema}.${u.table}.${u.column}: ${u.reason}`);

  lines.push('');
  if (p.warnings.length === 0) lines.push('No warnings.');
  else lines.push('Warnings');
  for (const w of p.warnings) lines.push(`  ${w.blocks ? 'BLOCKS' : 'warn  '}  ${w.message}`);
  lines.push(
    '',
    p.blocked
      ? `Plan: a rotation now would fail or leave values it cannot read later (${p.warnings.filter((w) => w.blocks).length} blocking).`
      : 'Plan: nothing blocks a rotation.',
    `(the plan itself: ${p.cost.statements} statements, ${p.cost.rowsRead} rows read, ${p.cost.durationMs} ms; nothing written)`,
  );
  return lines;
}

/** A few lines for the demo: what the rotation will do and cost, the census, and the warnings. */
export function renderPlanSummary(p: RotationPlan): string[] {
  const s = p.steps;
  const rewritten = p.passes.reduce((n, c) => n + c.setSecret.rowsRewritten, 0);
  const lines = [
    `Plan: re-encrypt ${rewritten} rows in ${p.passes.length} columns; at ${p.model.latencyMs} ms per call ` +
      `setSecret ~${s.setSecret.calls.total} Data API calls (${seconds(s.setSecret.timeMs.total)}, ` +
      `${p.invocations.setSecret} invocation${p.invocations.setSecret === 1 ? '' : 's'}), ` +
      `testSecret ~${s.testSecret.calls.total} (${seconds(s.testSecret.timeMs.total)}), finishSecret ${s.finishSecret.calls.total}`,
    `Census: ${p.census.checked} unlisted columns checked in ${p.census.cost.statements} statements; ` +
      (p.census.found.length === 0
        ? 'no ciphertext outside the configured columns'
        : p.census.found.map(describeFound).join('; ')),
  ];
  for (const w of p.warnings) lines.push(`  ${w.blocks ? 'BLOCKS' : 'warn'}: ${w.message}`);
  return lines;
}

function seconds(ms: number): string {
  return ms < 10_000
    ? `${(ms / 1000).toFixed(1)} s`
    : ms < 120_000
      ? `${Math.round(ms / 1000)} s`
      : minutes(ms);
}

function minutes(ms: number): string {
  return ms < 120 * 60_000
    ? `${(ms / 60_000).toFixed(ms % 60_000 === 0 ? 0 : 1)} min`
    : `${(ms / 3_600_000).toFixed(1)} h`;
}

function parseLatency(value: string): number {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value)) {
    throw new InvalidArgumentError('must be a number of milliseconds, 0 or more.');
  }
  return Number(value);
}
