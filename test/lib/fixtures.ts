import { readFileSync } from 'node:fs';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AppSecretRotation, type AppSecretRotationProps } from '../../lib/index.js';

/** The account and region of every test stack. */
export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const CLUSTER_ARN = `arn:aws:rds:${REGION}:${ACCOUNT}:cluster:app`;
export const DB_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:app-db-AbCdEf`;
export const APP_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:prod/app-key-XyZ123`;
export const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
export const ADMIN_ARN = `arn:aws:iam::${ACCOUNT}:role/rekey-admin`;

/** The smallest valid settings. */
export const SETTINGS: AppSecretRotationProps['settings'] = {
  secretTemplate: { encryptionKey: { kind: 'aes-256' } },
  dataKeyField: 'encryptionKey',
  storedFields: [{ table: 'data_sources', id: 'id', columns: ['options'] }],
};

/** The same as a rekey config file (what `RekeyStack` and the CLI read). */
export const CONFIG_FILE = {
  ...SETTINGS,
  dataApi: { resourceArn: CLUSTER_ARN, secretArn: DB_SECRET_ARN, database: 'app', engine: 'postgres' },
} as const;

/** A test app: bundling skipped (no esbuild run), output in a temporary directory. */
export function testApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] } });
}

/** A stack in the test account and region. */
export function testStack(app: App = testApp()): Stack {
  return new Stack(app, 'Test', { env: { account: ACCOUNT, region: REGION } });
}

/** A built construct, its stack and its template. */
export interface Built {
  readonly app: App;
  readonly stack: Stack;
  readonly rotation: AppSecretRotation;
  readonly template: Template;
}

/**
 * The construct with the smallest valid props (new secret, cluster ARN, one admin), changed by `extra`;
 * `withStack` makes props that need the stack (keys, topics, imported secrets). Not yet synthesized.
 */
export function construct(
  extra: Partial<AppSecretRotationProps> = {},
  withStack?: (stack: Stack) => Partial<AppSecretRotationProps>,
): Omit<Built, 'template'> {
  const app = testApp();
  const stack = testStack(app);
  const rotation = new AppSecretRotation(stack, 'Rotation', {
    settings: SETTINGS,
    clusterArn: CLUSTER_ARN,
    credentialsSecret: Secret.fromSecretCompleteArn(stack, 'Db', DB_SECRET_ARN),
    databaseName: 'app',
    engine: 'postgres',
    adminPrincipalArns: [ADMIN_ARN],
    ...extra,
    ...withStack?.(stack),
  });
  return { app, stack, rotation };
}

/** {@link construct}, synthesized into its template. */
export function build(
  extra: Partial<AppSecretRotationProps> = {},
  withStack?: (stack: Stack) => Partial<AppSecretRotationProps>,
): Built {
  const built = construct(extra, withStack);
  return { ...built, template: Template.fromStack(built.stack) };
}

/** One statement of a policy document, as it appears in the template. */
export interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

/** Every statement of every IAM policy in the template (identity policies, not resource policies). */
export function iamStatements(template: Template): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
}

/** What a token renders to in the template (`{ Ref }`, `{ Fn::GetAtt }`, or the string itself). */
export function rendered(built: Pick<Built, 'stack'>, value: unknown): unknown {
  return built.stack.resolve(value);
}

/**
 * Synthesizes `app` with cdk-nag's AwsSolutions checks and returns every violation the validation
 * report lists (acknowledged ones are not listed). Synthesis throws on an unacknowledged error, so the
 * report is read either way.
 */
export function nagViolations(app: App): { rule: string; path: string }[] {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    app.synth();
  } catch (error) {
    if (!/Validation failed/.test((error as Error).message)) throw error;
  }
  const report = readReport(app.outdir);
  return report.pluginReports.flatMap((plugin) =>
    plugin.violations.flatMap((v) =>
      v.violatingConstructs.map((c) => ({ rule: v.ruleName, path: c.constructPath })),
    ),
  );
}

interface ValidationReport {
  readonly pluginReports: {
    readonly violations: {
      readonly ruleName: string;
      readonly violatingConstructs: { readonly constructPath: string }[];
    }[];
  }[];
}

function readReport(outdir: string): ValidationReport {
  return JSON.parse(readFileSync(`${outdir}/validation-report.json`, 'utf8')) as ValidationReport;
}
