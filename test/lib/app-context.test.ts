import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duration } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { rekeyAppOptions } from '../../lib/app-context.js';
import { PropsError } from '../../lib/index.js';
import { ADMIN_ARN } from './fixtures.js';

const from = (context: Record<string, unknown>) => rekeyAppOptions((key) => context[key]);

describe('the app options from CDK context', () => {
  it('defaults to rekey.config.json, stack Rekey, no environment and the stack defaults', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(from({}))), {
      configPath: 'rekey.config.json',
      stackName: 'Rekey',
      stackProps: {},
    });
  });

  it('reads typed values from cdk.json', () => {
    const options = from({
      rekeyConfig: 'prod.json',
      stackName: 'RekeyProd',
      account: '123456789012',
      region: 'eu-west-1',
      scheduleExpression: 'cron(0 3 ? * SUN *)',
      rotationWindowHours: 4,
      rotateImmediatelyOnUpdate: true,
      guardSecret: true,
      adminPrincipalArns: [ADMIN_ARN],
      sweepDelayHours: 2,
      logRetentionDays: 90,
    });
    assert.equal(options.configPath, 'prod.json');
    assert.equal(options.stackName, 'RekeyProd');
    assert.deepEqual(options.stackProps.env, { account: '123456789012', region: 'eu-west-1' });
    assert.deepEqual(options.stackProps.schedule, {
      expression: 'cron(0 3 ? * SUN *)',
      window: Duration.hours(4),
    });
    assert.equal(options.stackProps.rotateImmediatelyOnUpdate, true);
    assert.deepEqual(options.stackProps.adminPrincipalArns, [ADMIN_ARN]);
    assert.equal(options.stackProps.sweepDelay?.toHours(), 2);
    assert.equal(options.stackProps.logRetention, RetentionDays.THREE_MONTHS);
  });

  it('reads the same values given as strings with -c key=value', () => {
    const options = from({
      automaticallyAfterDays: '14',
      rotateImmediatelyOnUpdate: 'false',
      adminPrincipalArns: `${ADMIN_ARN}, arn:aws:iam::123456789012:role/oncall`,
      adoptExistingSecret: 'true',
      enableRotation: 'false',
    });
    assert.equal(options.stackProps.enableRotation, false);
    assert.equal(
      options.stackProps.schedule && 'automaticallyAfter' in options.stackProps.schedule
        ? options.stackProps.schedule.automaticallyAfter.toDays()
        : undefined,
      14,
    );
    assert.equal(options.stackProps.rotateImmediatelyOnUpdate, false);
    assert.equal(options.stackProps.adoptExistingSecret, true);
    assert.deepEqual(options.stackProps.adminPrincipalArns, [
      ADMIN_ARN,
      'arn:aws:iam::123456789012:role/oncall',
    ]);
    assert.deepEqual(from({ adminPrincipalArns: `["${ADMIN_ARN}"]` }).stackProps.adminPrincipalArns, [
      ADMIN_ARN,
    ]);
  });

  it('refuses bad values, naming the context key, the value and what is allowed', () => {
    const refuses = (context: Record<string, unknown>, message: RegExp) =>
      assert.throws(
        () => from(context),
        (e: Error) => e instanceof PropsError && message.test(e.message),
      );
    refuses({ account: '1234' }, /context account must be a 12-digit AWS account id, got "1234"/);
    refuses({ account: '123456789012' }, /account and region go together/);
    refuses(
      { rotateImmediatelyOnUpdate: 'yes' },
      /context rotateImmediatelyOnUpdate must be true or false, got "yes"/,
    );
    refuses(
      { automaticallyAfterDays: 'monthly' },
      /context automaticallyAfterDays must be a number, got "monthly"/,
    );
    refuses({ scheduleExpression: 'rate(7 days)', automaticallyAfterDays: 7 }, /exclude each other/);
    refuses(
      { logRetentionDays: 42 },
      /context logRetentionDays must be a CloudWatch Logs retention .* got 42/,
    );
    refuses({ adminPrincipalArns: 7 }, /context adminPrincipalArns must be a list of ARNs, got 7/);
  });
});
