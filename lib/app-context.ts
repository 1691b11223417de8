import { Duration } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { PropsError } from './props-error.js';
import type { RekeyStackProps } from './rekey-stack.js';
import type { RotationScheduleSpec } from './rotation-schedule.js';

/** The CDK context keys `bin/app.ts` reads (`cdk.json` or `-c key=value`). */
export const CONTEXT_KEYS = [
  'rekeyConfig',
  'stackName',
  'account',
  'region',
  'adoptExistingSecret',
  'enableRotation',
  'scheduleExpression',
  'automaticallyAfterDays',
  'rotationWindowHours',
  'rotateImmediatelyOnUpdate',
  'guardSecret',
  'adminPrincipalArns',
  'alarmTopicArn',
  'kmsKeyArn',
  'credentialsKmsKeyArn',
  'sweep',
  'sweepDelayHours',
  'logRetentionDays',
] as const;

/** What the app needs from its context: the config file to read, the stack's name and options. */
export interface RekeyAppOptions {
  /** Path of the rekey config file. */
  readonly configPath: string;
  /** The stack's name. */
  readonly stackName: string;
  /** Everything of {@link RekeyStackProps} but the config itself. */
  readonly stackProps: Omit<RekeyStackProps, 'config'>;
}

/**
 * Reads and checks the app's options from CDK context. Values come typed from `cdk.json` or as strings
 * from `-c key=value`; both are accepted. No account or region lookup happens: without `account` and
 * `region` the stack is environment-agnostic.
 * @throws PropsError naming the context key, the value and what is allowed.
 */
export function rekeyAppOptions(context: (key: string) => unknown): RekeyAppOptions {
  const str = (key: string) => optionalString(key, context(key));
  const bool = (key: string) => optionalBoolean(key, context(key));
  const num = (key: string) => optionalNumber(key, context(key));
  const account = str('account');
  const region = str('region');
  if (account !== undefined && !/^\d{12}$/.test(account))
    bad('account', account, 'a 12-digit AWS account id');
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
    bad('region', region, 'a region such as eu-west-1');
  if ((account === undefined) !== (region === undefined)) {
    throw new PropsError(
      'context account and region go together: give both or neither (environment-agnostic)',
    );
  }
  const retention = num('logRetentionDays');
  if (retention !== undefined && !(Object.values(RetentionDays) as number[]).includes(retention)) {
    bad('logRetentionDays', retention, 'a CloudWatch Logs retention such as 30, 90, 365 or 3653');
  }
  const sweepDelayHours = num('sweepDelayHours');
  return {
    configPath: str('rekeyConfig') ?? 'rekey.config.json',
    stackName: str('stackName') ?? 'Rekey',
    stackProps: {
      env: account && region ? { account, region } : undefined,
      adoptExistingSecret: bool('adoptExistingSecret'),
      enableRotation: bool('enableRotation'),
      schedule: schedule(
        str('scheduleExpression'),
        num('automaticallyAfterDays'),
        num('rotationWindowHours'),
      ),
      rotateImmediatelyOnUpdate: bool('rotateImmediatelyOnUpdate'),
      guardSecret: bool('guardSecret'),
      adminPrincipalArns: stringList('adminPrincipalArns', context('adminPrincipalArns')),
      alarmTopicArn: str('alarmTopicArn'),
      encryptionKeyArn: str('kmsKeyArn'),
      credentialsEncryptionKeyArn: str('credentialsKmsKeyArn'),
      sweep: bool('sweep'),
      sweepDelay: sweepDelayHours === undefined ? undefined : Duration.hours(sweepDelayHours),
      logRetention: retention as RetentionDays | undefined,
    },
  };
}

function schedule(
  expression: string | undefined,
  days: number | undefined,
  windowHours: number | undefined,
): RotationScheduleSpec | undefined {
  if (expression !== undefined && days !== undefined) {
    throw new PropsError(
      'context scheduleExpression and automaticallyAfterDays exclude each other: give one',
    );
  }
  if (days !== undefined && !(Number.isInteger(days) && days > 0))
    bad('automaticallyAfterDays', days, 'whole days');
  if (windowHours !== undefined && !Number.isInteger(windowHours)) {
    bad('rotationWindowHours', windowHours, 'whole hours from 1 to 24');
  }
  const window = windowHours === undefined ? undefined : Duration.hours(windowHours);
  if (expression !== undefined) return { expression, window };
  if (days !== undefined) return { automaticallyAfter: Duration.days(days), window };
  if (window !== undefined) return { automaticallyAfter: Duration.days(30), window };
  return undefined;
}

function optionalString(key: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') bad(key, value, 'a string');
  return value as string;
}

function optionalBoolean(key: string, value: unknown): boolean | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  return bad(key, value, 'true or false');
}

function optionalNumber(key: string, value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n)) bad(key, value, 'a number');
  return n;
}

function stringList(key: string, value: unknown): string[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('[')) {
      try {
        return stringList(key, JSON.parse(text));
      } catch (cause) {
        if (cause instanceof PropsError) throw cause;
        bad(key, value, 'a JSON array of ARNs or a comma-separated list');
      }
    }
    return text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  return bad(key, value, 'a list of ARNs');
}

function bad(key: string, value: unknown, allowed: string): never {
  throw new PropsError(`context ${key} must be ${allowed}, got ${JSON.stringify(value)}`);
}
