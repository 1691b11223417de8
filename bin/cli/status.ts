import {
  DescribeSecretCommand,
  type DescribeSecretResponse,
  ListSecretVersionIdsCommand,
  type SecretsManagerClient,
  type SecretVersionsListEntry,
} from '@aws-sdk/client-secrets-manager';
import type { Command } from 'commander';
import { stagedVersions } from '../../lambda/index.js';
import { awsClients } from './clients.js';
import { loadConfigFile } from './config-file.js';
import { type CommandContext, printJson, printLines } from './context.js';
import { EXIT } from './exit-codes.js';
import { isoDate, relative, table } from './format.js';
import { type CommonOptions, examples, secretIdFrom, withCommonOptions } from './options.js';

interface StatusOptions extends CommonOptions {
  readonly secretId?: string;
  readonly config?: string;
}

/** How the rotation is doing, in one word scripts can match. */
export type RotationHealth = 'ok' | 'rotating' | 'failing' | 'disabled' | 'not-configured';

/** What `rekey status --json` prints. Nothing secret: no value is ever read. */
export interface StatusReport {
  readonly secretId: string;
  readonly arn: string | undefined;
  readonly name: string | undefined;
  readonly health: RotationHealth;
  readonly rotation: {
    readonly enabled: boolean;
    readonly lambdaArn: string | undefined;
    readonly automaticallyAfterDays: number | undefined;
    readonly scheduleExpression: string | undefined;
    readonly duration: string | undefined;
    readonly lastRotated: string | undefined;
    readonly nextRotation: string | undefined;
    /** The next rotation date has passed: the service could not finish a rotation. */
    readonly nextRotationPassed: boolean;
  };
  /** AWSPENDING on a version other than AWSCURRENT, and since when. */
  readonly pending: { readonly versionId: string; readonly since: string | undefined } | undefined;
  readonly deletionDate: string | undefined;
  readonly versions: readonly {
    readonly versionId: string;
    readonly stages: readonly string[];
    readonly created: string | undefined;
    readonly lastAccessed: string | undefined;
  }[];
}

/** `rekey status`: rotation settings, dates, versions and labels. Never reads a secret value. */
export function registerStatus(program: Command, ctx: CommandContext): void {
  withCommonOptions(
    program
      .command('status')
      .summary('show rotation settings, last and next rotation, versions, and any pending rotation')
      .description(
        'Shows whether rotation is enabled, its schedule, the last and next rotation (a next date in the ' +
          'past means rotation is failing), every version with its labels, and whether a rotation is ' +
          'pending or stuck and since when. Reads no secret value (DescribeSecret and ' +
          'ListSecretVersionIds only).',
      )
      .option('--secret-id <id>', 'name or ARN of the secret (default: secretId in --config)')
      .option('--config <file>', 'rekey config file: only its secretId is used'),
  )
    .addHelpText(
      'after',
      examples(
        'rekey status --secret-id prod/app',
        'rekey status --config rekey.json',
        "rekey status --secret-id prod/app --output json | jq -r '.health'",
      ),
    )
    .action(async (options: StatusOptions) => {
      const config = options.config ? await loadConfigFile(options.config) : undefined;
      const secretId = secretIdFrom(options.secretId, config);
      const client = awsClients(options).secretsManager;
      const report = await statusOf(client, secretId, ctx.io.clock.now());
      if (options.json) printJson(ctx, report);
      else printLines(ctx, ...renderStatus(report, ctx.io.clock.now()));
      ctx.setExit(EXIT.ok);
    });
}

/** Builds the report from DescribeSecret and every version (deprecated ones too). */
export async function statusOf(
  client: SecretsManagerClient,
  secretId: string,
  now: number,
): Promise<StatusReport> {
  const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  const listed = await listVersions(client, secretId);
  const versions = listed
    .map((v) => ({
      versionId: v.VersionId ?? '',
      stages: v.VersionStages ?? [],
      createdAt: v.CreatedDate,
      lastAccessedAt: v.LastAccessedDate,
    }))
    .sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0));
  const { pending } = stagedVersions({ versions });
  const pendingCreated = versions.find((v) => v.versionId === pending?.versionId)?.createdAt;
  const next = described.NextRotationDate;
  const nextRotationPassed = Boolean(described.RotationEnabled && next && next.getTime() < now);
  return {
    secretId,
    arn: described.ARN,
    name: described.Name,
    health: healthOf(described, Boolean(pending), nextRotationPassed),
    rotation: {
      enabled: described.RotationEnabled === true,
      lambdaArn: described.RotationLambdaARN,
      automaticallyAfterDays: described.RotationRules?.AutomaticallyAfterDays,
      scheduleExpression: described.RotationRules?.ScheduleExpression,
      duration: described.RotationRules?.Duration,
      lastRotated: described.LastRotatedDate?.toISOString(),
      nextRotation: next?.toISOString(),
      nextRotationPassed,
    },
    pending: pending ? { versionId: pending.versionId, since: pendingCreated?.toISOString() } : undefined,
    deletionDate: described.DeletedDate?.toISOString(),
    versions: versions.map((v) => ({
      versionId: v.versionId,
      stages: v.stages,
      created: v.createdAt?.toISOString(),
      lastAccessed: v.lastAccessedAt?.toISOString(),
    })),
  };
}

async function listVersions(
  client: SecretsManagerClient,
  secretId: string,
): Promise<SecretVersionsListEntry[]> {
  const all: SecretVersionsListEntry[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true, NextToken: nextToken }),
    );
    all.push(...(page.Versions ?? []));
    nextToken = page.NextToken;
  } while (nextToken);
  return all;
}

function healthOf(d: DescribeSecretResponse, pending: boolean, nextPassed: boolean): RotationHealth {
  if (!d.RotationEnabled) return d.RotationLambdaARN ? 'disabled' : 'not-configured';
  if (nextPassed) return 'failing';
  return pending ? 'rotating' : 'ok';
}

/** The human view of the report. */
export function renderStatus(r: StatusReport, now: number): string[] {
  const date = (iso: string | undefined) =>
    iso ? `${isoDate(new Date(iso))} (${relative(new Date(iso), now)})` : '-';
  const lines = [`secret      ${r.name ?? r.secretId}${r.arn ? ` (${r.arn})` : ''}`];
  if (r.deletionDate) lines.push(`deletion    scheduled for ${date(r.deletionDate)}`);
  const rot = r.rotation;
  lines.push(
    `rotation    ${rot.enabled ? 'enabled' : 'disabled'}${rot.lambdaArn ? `, by ${rot.lambdaArn}` : ', no rotation function'}`,
  );
  lines.push(`schedule    ${scheduleText(r)}`);
  lines.push(`last        ${rot.lastRotated ? date(rot.lastRotated) : 'never rotated'}`);
  lines.push(`next        ${date(rot.nextRotation)}`);
  lines.push(`state       ${stateText(r, now)}`);
  if (r.pending) {
    lines.push(
      '',
      `A rotation is pending: version ${r.pending.versionId} is AWSPENDING` +
        `${r.pending.since ? ` since ${date(r.pending.since)}` : ''}.`,
      'If no rotation is running now, it is stuck: `rekey resume` finishes it with the same token,',
      '`rekey abort` ends it after moving any re-encrypted rows back. See docs/operations.md.',
    );
  }
  lines.push(
    '',
    table(
      ['VERSION', 'STAGES', 'CREATED', 'LAST ACCESSED'],
      r.versions.map((v) => [
        v.versionId,
        v.stages.length > 0 ? v.stages.join(',') : '(deprecated)',
        v.created ? isoDate(new Date(v.created)) : '-',
        v.lastAccessed ? isoDate(new Date(v.lastAccessed)).slice(0, 10) : '-',
      ]),
    ),
  );
  return lines;
}

function scheduleText(r: StatusReport): string {
  const { automaticallyAfterDays: days, scheduleExpression: expr, duration } = r.rotation;
  const window = duration ? `, window ${duration}` : '';
  if (expr) return `${expr}${window}`;
  if (days) return `every ${days} day${days === 1 ? '' : 's'}${window}`;
  return 'none';
}

function stateText(r: StatusReport, now: number): string {
  switch (r.health) {
    case 'not-configured':
      return 'rotation is not configured (deploy the rekey stack)';
    case 'disabled':
      return 'rotation is turned off';
    case 'failing':
      return `FAILING: the next rotation date passed ${relative(new Date(r.rotation.nextRotation ?? now), now)} without a rotation; read the rotation function's log`;
    case 'rotating':
      return 'a rotation is pending (see below)';
    case 'ok':
      return 'ok';
  }
}
