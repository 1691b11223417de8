import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AppSecretRotation, type AppSecretRotationProps, RekeyStack } from '../../lib/index.js';

const CLUSTER_ARN = 'arn:aws:rds:eu-west-1:123456789012:cluster:app';
const DB_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf';
const SETTINGS: AppSecretRotationProps['settings'] = {
  secretTemplate: { encryptionKey: { kind: 'aes-256' } },
  dataKeyField: 'encryptionKey',
  storedFields: [{ table: 'data_sources', id: 'id', columns: ['options'] }],
};

/** A stack with the construct, bundling skipped, cdk-nag's AwsSolutions checks on. */
function build(
  extra: Partial<AppSecretRotationProps> = {},
  withStack?: (stack: Stack) => Partial<AppSecretRotationProps>,
) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test', { env: { account: '123456789012', region: 'eu-west-1' } });
  const rotation = new AppSecretRotation(stack, 'Rotation', {
    settings: SETTINGS,
    clusterArn: CLUSTER_ARN,
    credentialsSecret: Secret.fromSecretCompleteArn(stack, 'Db', DB_SECRET_ARN),
    databaseName: 'app',
    engine: 'postgres',
    ...extra,
    ...withStack?.(stack),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, rotation, template: () => Template.fromStack(stack) };
}

/** Every statement of the rotation role's policies, actions and resources as plain data. */
function roleStatements(
  template: Template,
): { Action: string | string[]; Resource: unknown; Effect: string }[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: never[] } } }).Properties.PolicyDocument.Statement,
  );
}

describe('the rotation function', () => {
  it('is an arm64 function on the newest Node runtime with a 15-minute timeout and a retained log group', () => {
    const t = build().template();
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 900,
      Handler: 'index.handler',
      Environment: { Variables: { REKEY_CONFIG: Match.anyValue(), NODE_OPTIONS: '--enable-source-maps' } },
      LoggingConfig: { LogGroup: Match.anyValue() },
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    const fn = Object.values(t.findResources('AWS::Lambda::Function'))[0] as {
      Properties: Record<string, unknown>;
    };
    assert.equal(
      fn.Properties.ReservedConcurrentExecutions,
      undefined,
      'no reserved concurrency that throttles rotation',
    );
  });

  it('gets its configuration as JSON with ARNs only, never a secret value', () => {
    const t = build().template();
    const fn = Object.values(t.findResources('AWS::Lambda::Function'))[0] as {
      Properties: { Environment: { Variables: { REKEY_CONFIG: unknown } } };
    };
    const rendered = JSON.stringify(fn.Properties.Environment.Variables.REKEY_CONFIG);
    assert.match(rendered, /data_sources/);
    assert.match(rendered, new RegExp(CLUSTER_ARN));
    assert.doesNotMatch(rendered, /SecretString/);
  });
});

describe('least-privilege IAM', () => {
  it('grants exactly the rotation actions on this secret, the Data API on this cluster, and logs', () => {
    const statements = roleStatements(build().template());
    const byAction = Object.fromEntries(statements.map((s) => [JSON.stringify(s.Action), s.Resource]));
    assert.deepEqual(
      Object.keys(byAction).sort(),
      [
        JSON.stringify([
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
        ]),
        JSON.stringify(['logs:CreateLogStream', 'logs:PutLogEvents']),
        JSON.stringify('rds-data:ExecuteStatement'),
        JSON.stringify('secretsmanager:GetSecretValue'),
      ].sort(),
    );
    assert.equal(byAction[JSON.stringify('rds-data:ExecuteStatement')], CLUSTER_ARN);
    assert.equal(byAction[JSON.stringify('secretsmanager:GetSecretValue')], DB_SECRET_ARN);
    for (const s of statements) {
      assert.equal(s.Effect, 'Allow');
      assert.notEqual(s.Resource, '*', `no '*' resource for ${JSON.stringify(s.Action)}`);
      assert.ok(!JSON.stringify(s.Action).includes('GetRandomPassword'));
    }
    const t = build().template();
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
      },
      ManagedPolicyArns: Match.absent(),
    });
  });

  it('scopes the secret actions to the rotated secret', () => {
    const { template, stack } = build();
    const secretRef = stack.getLogicalId(
      stack.node.findChild('Rotation').node.findChild('Secret').node.defaultChild as never as never,
    );
    const statements = roleStatements(template());
    const rotation = statements.find(
      (s) => Array.isArray(s.Action) && s.Action.includes('secretsmanager:PutSecretValue'),
    );
    assert.deepEqual(rotation?.Resource, { Ref: secretRef });
  });

  it('adds KMS only when a customer-managed key encrypts the secret', () => {
    const none = roleStatements(build().template());
    assert.ok(!none.some((s) => JSON.stringify(s.Action).includes('kms:')));
    const withKey = build({}, (stack) => ({
      encryptionKey: Key.fromKeyArn(
        stack,
        'K',
        'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      ),
    }));
    const kms = roleStatements(withKey.template()).find((s) => JSON.stringify(s.Action).includes('kms:'));
    assert.deepEqual(kms?.Action, ['kms:Decrypt', 'kms:GenerateDataKey']);
    assert.equal(
      kms?.Resource,
      'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    );
  });

  it('lets only Secrets Manager, from this account and for this secret, invoke the function', () => {
    build()
      .template()
      .hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'secretsmanager.amazonaws.com',
        SourceAccount: '123456789012',
        SourceArn: { Ref: Match.stringLikeRegexp('RotationSecret') },
      });
  });
});

describe('the secret guard', () => {
  it('denies writing values and moving labels to anyone but the rotation role and the admins', () => {
    build({ adminPrincipalArns: ['arn:aws:iam::123456789012:role/BreakGlass'] })
      .template()
      .hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
        ResourcePolicy: {
          Statement: [
            {
              Sid: 'OnlyRekeyWritesWhileItOwnsTheSecret',
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
              Resource: '*',
              Condition: {
                ArnNotLike: {
                  'aws:PrincipalArn': [
                    { 'Fn::GetAtt': [Match.stringLikeRegexp('RotationRole'), 'Arn'] },
                    'arn:aws:iam::123456789012:role/BreakGlass',
                  ],
                },
              },
            },
          ],
        },
      });
  });

  it('can be turned off', () => {
    build({ guardSecret: false }).template().resourceCountIs('AWS::SecretsManager::ResourcePolicy', 0);
  });
});

describe('the schedule', () => {
  it('rotates every 30 days without rotating on deploy by default', () => {
    build()
      .template()
      .hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
        RotationRules: { ScheduleExpression: 'rate(30 days)', Duration: Match.absent() },
        RotateImmediatelyOnUpdate: false,
        RotationLambdaARN: Match.anyValue(),
      });
  });

  it('renders a cron expression with a rotation window, and sweeps after the window', () => {
    const t = build({
      schedule: { expression: 'cron(0 3 ? * SUN *)', window: Duration.hours(4) },
    }).template();
    t.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'cron(0 3 ? * SUN *)', Duration: '4h' },
    });
    const sweep = Object.values(
      t.findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: 'cron(0 13 ? * SUN *)' } }),
    );
    assert.equal(sweep.length, 1, 'the sweep runs 6 hours after the 4-hour window that opens at 3:00');
    assert.match(JSON.stringify(sweep[0]), /\\"action\\":\\"sweep\\"/);
  });

  it('refuses schedules the service refuses, naming the prop', () => {
    assert.throws(() => build({ schedule: { expression: 'cron(15 3 * * ? *)' } }), /minutes field 0/);
    assert.throws(() => build({ schedule: { expression: 'cron(0 3 * * ? 2027)' } }), /'\*' for the year/);
    assert.throws(
      () => build({ schedule: { expression: 'rate(6 hours)', window: Duration.hours(8) } }),
      /runs into the next rotation window/,
    );
    assert.throws(
      () => build({ schedule: { expression: 'cron(0 */6 * * ? *)', window: Duration.hours(8) } }),
      /every 6h/,
    );
    assert.throws(() => build({ schedule: { automaticallyAfter: Duration.hours(36) } }), /whole days/);
    assert.throws(
      () => build({ schedule: { expression: 'every tuesday' } }),
      /rate\(N days\|hours\) or cron/,
    );
  });

  it('refuses bad settings at synth time with the config error', () => {
    assert.throws(
      () =>
        build({ settings: { ...SETTINGS, storedFields: [{ table: 'x;drop', id: 'id', columns: ['c'] }] } }),
      {
        message: /storedFields\.0\.table must be a plain SQL identifier/,
      },
    );
  });
});

describe('operations', () => {
  it('alarms on function errors and routes failed rotations to the topic', () => {
    const t = build({}, (stack) => ({
      alarmTopic: new Topic(stack, 'Alarms', { enforceSSL: true }),
    })).template();
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Threshold: 1,
      AlarmActions: [{ Ref: Match.stringLikeRegexp('Alarms') }],
    });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.secretsmanager'],
        detail: Match.objectLike({ eventName: ['RotationFailed', 'RotationAbandoned'] }),
      },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('Alarms') } })],
    });
  });
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged in the construct', () => {
    const { app } = build();
    assert.doesNotThrow(() => app.synth());
  });

  it('finds nothing unacknowledged in the deployable stack', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    new RekeyStack(app, 'Rekey', {
      config: {
        ...SETTINGS,
        dataApi: { resourceArn: CLUSTER_ARN, secretArn: DB_SECRET_ARN, database: 'app', engine: 'postgres' },
      },
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    assert.doesNotThrow(() => app.synth());
  });
});
