import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Metric,
  type MetricOptions,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { type IRule, Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SnsTopic } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

/**
 * The events Secrets Manager records (through CloudTrail, as `AwsServiceEvent`) when a rotation does not
 * finish: a step failed, the rotation was abandoned (a value written by hand), or the configuration test
 * that runs instead of a rotation on deploy (`rotateImmediatelyOnUpdate: false`) failed.
 */
export const ROTATION_FAILURE_EVENTS = ['RotationFailed', 'RotationAbandoned', 'TestRotationFailed'] as const;

/** What the operations resources watch and where they report. */
export interface RotationOperationsProps {
  /** The rotation function. */
  readonly rotationFunction: IFunction;
  /** The rotated secret. */
  readonly secret: ISecret;
  /** How the function names the secret in API calls: its full ARN, or its name. */
  readonly secretId: string;
  /** Where the alarm and the failure rule report. */
  readonly alarmTopic?: ITopic;
  /** EventBridge `cron()` expression of the sweep; undefined: no sweep. */
  readonly sweepSchedule?: string;
}

/** The resources {@link addRotationOperations} creates. */
export interface RotationOperations {
  /** Alarm on the rotation function's errors (rotation steps and sweeps). */
  readonly errorsAlarm: Alarm;
  /** Rule matching the service's rotation failure events for this secret. */
  readonly failureRule: Rule;
  /** Rule invoking the function with `{ action: 'sweep', SecretId }` on the sweep schedule. */
  readonly sweepRule?: Rule;
}

/**
 * Adds the alarm, the failure rule and the scheduled sweep to `scope` (ids `ErrorsAlarm`,
 * `RotationFailures`, `Sweep`). Both alarm and rule go to the topic when there is one; without it they
 * still exist, for the console and for `addAlarmAction`/`addTarget`.
 */
export function addRotationOperations(scope: Construct, props: RotationOperationsProps): RotationOperations {
  const errorsAlarm = new Alarm(scope, 'ErrorsAlarm', {
    alarmDescription:
      'The rekey rotation function failed (a rotation step or a sweep); see its log group and docs/operations.md',
    metric: props.rotationFunction.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  // The events carry the full ARN in additionalEventData.SecretId; a secret imported by name or partial
  // ARN is matched by prefix up to the six-character suffix.
  const secretId = props.secret.secretFullArn ?? { prefix: `${props.secret.secretArn}-` };
  const failureRule = new Rule(scope, 'RotationFailures', {
    description: 'Secrets Manager reports a failed, abandoned or failed-test rotation of the rekey secret',
    eventPattern: {
      source: ['aws.secretsmanager'],
      detailType: ['AWS Service Event via CloudTrail'],
      detail: {
        eventSource: ['secretsmanager.amazonaws.com'],
        eventName: [...ROTATION_FAILURE_EVENTS],
        additionalEventData: { SecretId: [secretId] },
      },
    },
  });
  if (props.alarmTopic) {
    errorsAlarm.addAlarmAction(new SnsAction(props.alarmTopic));
    failureRule.addTarget(new SnsTopic(props.alarmTopic));
  }
  const sweepRule =
    props.sweepSchedule === undefined
      ? undefined
      : new Rule(scope, 'Sweep', {
          description:
            'rekey sweep: moves rows written under AWSPREVIOUS by stale app instances to AWSCURRENT',
          schedule: Schedule.expression(props.sweepSchedule),
          targets: [
            new LambdaFunction(props.rotationFunction, {
              event: RuleTargetInput.fromObject({ action: 'sweep', SecretId: props.secretId }),
              retryAttempts: 2,
            }),
          ],
        });
  return { errorsAlarm, failureRule, sweepRule };
}

/**
 * The times `failureRule` matched a failure event: AWS/Events `TriggeredRules` by `RuleName` (a rule on
 * the default event bus, where the service's CloudTrail events arrive). EventBridge sends the metric
 * only when it is not zero, so an alarm on it should treat missing data as not breaching.
 * @default - sum over 5 minutes
 */
export function rotationFailuresMetric(failureRule: IRule, props?: MetricOptions): Metric {
  return new Metric({
    namespace: 'AWS/Events',
    metricName: 'TriggeredRules',
    dimensionsMap: { RuleName: failureRule.ruleName },
    statistic: 'Sum',
    period: Duration.minutes(5),
    ...props,
  }).attachTo(failureRule);
}
