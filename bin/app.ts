import { readFileSync } from 'node:fs';
import { App, Duration, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { RekeyStack } from '../lib/index.js';
import type { RotationScheduleSpec } from '../lib/rotation-schedule.js';

// The CDK app: reads the rekey config file and stack options from context, nothing else.
const app = new App();
const context = (key: string): string | undefined => app.node.tryGetContext(key) ?? undefined;
const configPath = context('rekeyConfig') ?? 'rekey.config.json';
let config: unknown;
try {
  config = JSON.parse(readFileSync(configPath, 'utf8'));
} catch (cause) {
  throw new Error(`cannot read the rekey config '${configPath}' (set it with -c rekeyConfig=FILE)`, {
    cause,
  });
}

const expression = context('scheduleExpression');
const windowHours = context('rotationWindowHours');
const schedule: RotationScheduleSpec | undefined = expression
  ? { expression, window: windowHours ? Duration.hours(Number(windowHours)) : undefined }
  : context('automaticallyAfterDays')
    ? { automaticallyAfter: Duration.days(Number(context('automaticallyAfterDays'))) }
    : undefined;

new RekeyStack(app, context('stackName') ?? 'Rekey', {
  config: config as never,
  schedule,
  rotateImmediatelyOnUpdate: context('rotateImmediatelyOnUpdate') === 'true',
  adminPrincipalArns: context('adminPrincipalArns')?.split(',').filter(Boolean),
  alarmTopicArn: context('alarmTopicArn'),
  encryptionKeyArn: context('kmsKeyArn'),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
