import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Alarm, type Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { ROTATION_FAILURE_EVENTS } from '../../lib/index.js';
import { ACCOUNT, build, construct, REGION, rendered } from './fixtures.js';

describe('operations', () => {
  const withTopic = build({}, (stack) => ({ alarmTopic: new Topic(stack, 'Alarms', { enforceSSL: true }) }));

  it('alarms on any error of the rotation function in five minutes, and tells the topic', () => {
    withTopic.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [
        {
          Name: 'FunctionName',
          Value: rendered(withTopic, withTopic.rotation.rotationFunction.functionName),
        },
      ],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^Alarms') }],
    });
  });

  it("routes the service's failed, abandoned and failed-test rotation events for this secret to the topic", () => {
    withTopic.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.secretsmanager'],
        'detail-type': ['AWS Service Event via CloudTrail'],
        detail: {
          eventSource: ['secretsmanager.amazonaws.com'],
          eventName: ['RotationFailed', 'RotationAbandoned', 'TestRotationFailed'],
          additionalEventData: { SecretId: [rendered(withTopic, withTopic.rotation.secret.secretArn)] },
        },
      },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^Alarms') } })],
    });
    assert.deepEqual(ROTATION_FAILURE_EVENTS, ['RotationFailed', 'RotationAbandoned', 'TestRotationFailed']);
  });

  it('keeps the alarm and the rule without a topic, with no action and no target', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      AlarmActions: Match.absent(),
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['aws.secretsmanager'] }),
      Targets: Match.absent(),
    });
  });

  it('matches the events of a secret imported by name by the prefix of its full ARN', () => {
    const { template } = build({}, (stack) => ({
      secret: Secret.fromSecretNameV2(stack, 'App', 'prod/app-key'),
    }));
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        detail: Match.objectLike({
          additionalEventData: {
            SecretId: [
              {
                prefix: {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      `:secretsmanager:${REGION}:${ACCOUNT}:secret:prod/app-key-`,
                    ],
                  ],
                },
              },
            ],
          },
        }),
      },
    });
  });

  it('sweeps stragglers with the sweep event six hours after each window by default', () => {
    const built = build({ schedule: { expression: 'cron(0 3 ? * SUN *)', window: Duration.hours(4) } });
    built.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 13 ? * SUN *)',
      Targets: [
        {
          Id: Match.anyValue(),
          Arn: rendered(built, built.rotation.rotationFunction.functionArn),
          Input: rendered(built, JSON.stringify({ action: 'sweep', SecretId: built.rotation.secretId })),
          RetryPolicy: { MaximumRetryAttempts: 2 },
        },
      ],
    });
  });

  it('sweeps at the delay given, and not at all when the sweep is off', () => {
    build({
      schedule: { expression: 'cron(0 3 ? * SUN *)', window: Duration.hours(4) },
      sweepDelay: Duration.hours(2),
    }).template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 9 ? * SUN *)' });
    const off = build({ sweep: false });
    assert.equal(off.rotation.sweepRule, undefined);
    off.template.resourcePropertiesCountIs('AWS::Events::Rule', { ScheduleExpression: Match.anyValue() }, 0);
    off.template.resourcePropertiesCountIs(
      'AWS::Lambda::Permission',
      { Principal: 'events.amazonaws.com' },
      0,
    );
  });
});

describe('metrics for alarms of your own', () => {
  /** The template of the construct with one alarm of the user's on `metric`, and the construct. */
  function userAlarm(metric: (rotation: ReturnType<typeof construct>['rotation']) => Metric) {
    const built = construct();
    new Alarm(built.stack, 'UserAlarm', {
      metric: metric(built.rotation),
      threshold: 1,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const template = Template.fromStack(built.stack);
    const functionName = [
      { Name: 'FunctionName', Value: rendered(built, built.rotation.rotationFunction.functionName) },
    ];
    return { ...built, template, functionName };
  }

  it("renders the rotation function's errors as errorsAlarm watches them: AWS/Lambda, Sum over 5 minutes", () => {
    const { template, functionName } = userAlarm((r) => r.metricErrors());
    template.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: functionName,
        Statistic: 'Sum',
        Period: 300,
      },
      2,
    );
  });

  it('renders duration, invocations and throttles of the rotation function, with the options given', () => {
    userAlarm((r) =>
      r.metricDuration({ statistic: 'Maximum', period: Duration.hours(1) }),
    ).template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Duration',
      Statistic: 'Maximum',
      Period: 3600,
    });
    const invocations = userAlarm((r) => r.metricInvocations());
    invocations.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Invocations',
      Dimensions: invocations.functionName,
      Statistic: 'Sum',
      Period: 300,
    });
    const throttles = userAlarm((r) => r.metricThrottles());
    throttles.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: throttles.functionName,
      Statistic: 'Sum',
      Period: 300,
    });
  });

  it('counts failed, abandoned and failed-test rotations as the matches of the failure rule', () => {
    const built = userAlarm((r) => r.metricRotationFailures());
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Events',
      MetricName: 'TriggeredRules',
      Dimensions: [{ Name: 'RuleName', Value: rendered(built, built.rotation.failureRule.ruleName) }],
      Statistic: 'Sum',
      Period: 300,
      TreatMissingData: 'notBreaching',
    });
  });
});
