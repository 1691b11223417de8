import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Duration, Stack } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { RekeyStack, type RekeyStackProps } from '../../lib/index.js';
import { ADMIN_ARN, APP_SECRET_ARN, construct, KEY_ARN, nagViolations, testApp } from './fixtures.js';

describe("cdk-nag's AwsSolutions checks", () => {
  it('catch a violation in this harness, so a clean result means something', () => {
    const app = testApp();
    new Topic(new Stack(app, 'Probe'), 'PlainTopic');
    assert.deepEqual(
      nagViolations(app).map((v) => v.rule),
      ['AwsSolutions-SNS3'],
    );
  });

  it('find nothing in the construct with its defaults', () => {
    assert.deepEqual(nagViolations(construct().app), []);
  });

  it('find nothing with a key, a topic, an imported secret, a cron window and reserved concurrency', () => {
    const { app } = construct(
      {
        schedule: { expression: 'cron(0 3 ? * SUN *)', window: Duration.hours(4) },
        reservedConcurrentExecutions: 10,
      },
      (stack) => ({
        secret: Secret.fromSecretCompleteArn(stack, 'App', APP_SECRET_ARN),
        encryptionKey: Key.fromKeyArn(stack, 'K', KEY_ARN),
        alarmTopic: Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:eu-west-1:123456789012:ops'),
      }),
    );
    assert.deepEqual(nagViolations(app), []);
  });

  it('find nothing on the first deploy with rotation off, whose missing schedule is acknowledged', () => {
    assert.deepEqual(nagViolations(construct({ enableRotation: false }).app), []);
  });

  it('find nothing in the deployable stack built from the example config', () => {
    const app = testApp();
    new RekeyStack(app, 'Rekey', {
      config: JSON.parse(
        readFileSync(new URL('../../rekey.example.json', import.meta.url), 'utf8'),
      ) as RekeyStackProps['config'],
      adminPrincipalArns: [ADMIN_ARN],
    });
    assert.deepEqual(nagViolations(app), []);
  });
});
