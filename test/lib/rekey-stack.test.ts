import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { PropsError, RekeyStack, type RekeyStackProps } from '../../lib/index.js';
import {
  ACCOUNT,
  ADMIN_ARN,
  APP_SECRET_ARN,
  CONFIG_FILE,
  DB_SECRET_ARN,
  KEY_ARN,
  REGION,
  testApp,
} from './fixtures.js';

function stack(props: Partial<RekeyStackProps> = {}, config: Record<string, unknown> = {}): RekeyStack {
  return new RekeyStack(testApp(), 'Rekey', {
    config: { ...CONFIG_FILE, ...config } as RekeyStackProps['config'],
    adminPrincipalArns: [ADMIN_ARN],
    env: { account: ACCOUNT, region: REGION },
    ...props,
  });
}

describe('the rekey stack', () => {
  it('creates a new secret named by the config file secretId, and outputs what the CLI needs', () => {
    const template = Template.fromStack(stack({}, { secretId: 'prod/app-key' }));
    template.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'prod/app-key' });
    template.hasOutput('SecretId', { Value: { Ref: Match.stringLikeRegexp('RotationSecret') } });
    template.hasOutput('RotationFunctionName', Match.anyValue());
    template.hasOutput('LogGroupName', Match.anyValue());
  });

  it('rotates an existing secret when secretId is an ARN, creating none', () => {
    const template = Template.fromStack(stack({}, { secretId: APP_SECRET_ARN }));
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', { SecretId: APP_SECRET_ARN });
    template.hasOutput('SecretId', { Value: APP_SECRET_ARN });
  });

  it('adopts an existing secret by name when asked, and refuses to adopt nothing', () => {
    const template = Template.fromStack(stack({ adoptExistingSecret: true }, { secretId: 'prod/app-key' }));
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', { SecretId: 'prod/app-key' });
    assert.throws(
      () => stack({ adoptExistingSecret: true }),
      /adoptExistingSecret needs secretId in the rekey config, got none/,
    );
  });

  it('signs in with the config file credentials secret and wires the key and topic by ARN', () => {
    const template = Template.fromStack(
      stack({
        encryptionKeyArn: KEY_ARN,
        alarmTopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:ops`,
      }),
    );
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'DataApiSignsInWithThisSecret', Resource: DB_SECRET_ARN }),
          Match.objectLike({ Sid: 'SecretKeyThroughSecretsManager', Resource: KEY_ARN }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: [`arn:aws:sns:${REGION}:${ACCOUNT}:ops`],
    });
  });

  it('refuses an invalid config file with the stack, the field and the value', () => {
    assert.throws(
      () => stack({}, { codec: 'rot13' }),
      (e: Error) =>
        e instanceof PropsError &&
        e.constructPath === 'Rekey' &&
        /^Rekey: rekey config: codec .*got 'rot13'/.test(e.message),
    );
  });

  it('synthesizes without an account or region, for any environment', () => {
    const template = Template.fromStack(
      new RekeyStack(testApp(), 'Rekey', {
        config: CONFIG_FILE as RekeyStackProps['config'],
        adminPrincipalArns: [ADMIN_ARN],
      }),
    );
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
  });
});
