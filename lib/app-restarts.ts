import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IBaseService } from 'aws-cdk-lib/aws-ecs';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, QueryLanguage, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { promotionEventPattern } from './promotion-event.js';
import { PropsError } from './props-error.js';
import { restartWorkflow, type ServiceToRestart, type SweepAfterRestart } from './restart-workflow.js';

/** Which apps follow a promotion, for apps that read one key from their environment at start. */
export interface RestartAfterPromotion {
  /**
   * ECS services to roll (a forced new deployment) once a new version is AWSCURRENT: their tasks read
   * the secret when they start (`ecs.Secret.fromSecretsManager` in the task definition), so new tasks get
   * the new value. In this stack's account and region; at most {@link MAX_RESTARTED_SERVICES}.
   * @default - none: only rekey's event is put on the default bus
   */
  readonly ecsServices?: readonly IBaseService[];
  /**
   * How long a service may take to complete the new deployment (ECS reaches a steady state) before the
   * restart counts as failed and the alarm fires. 5 minutes to 3 hours.
   * @default Duration.minutes(30)
   */
  readonly timeout?: Duration;
  /**
   * Once the services have rolled, run the sweep: rows the old tasks wrote under the old key after the
   * promotion are unreadable to the new tasks, which hold the new key alone, until the sweep moves them,
   * and the scheduled sweep may be hours away. A failed sweep fires the alarm.
   * @default true (when there are ECS services)
   */
  readonly sweepAfterRestart?: boolean;
}

/** Props of {@link AppRestarts}. */
export interface AppRestartsProps extends RestartAfterPromotion {
  /** The rotated secret: promotions of this secret, and of no other, start the restarts. */
  readonly secret: ISecret;
  /**
   * The rotation function and how it names the secret, for the sweep after the restarts
   * (`sweepAfterRestart`). The workflow's role may invoke exactly this function's ARN.
   * @default - no sweep after the restarts
   */
  readonly sweep?: SweepAfterRestart;
  /**
   * Where the alarm goes.
   * @default - none: the alarm exists without an action
   */
  readonly alarmTopic?: ITopic;
  /**
   * How long the workflow's logs are kept.
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: RetentionDays;
}

/**
 * The most services one {@link AppRestarts} rolls: the workflow's role holds two statements listing
 * them all (UpdateService, DescribeServices), and a role's inline policies hold 10,240 characters.
 */
export const MAX_RESTARTED_SERVICES = 20;

const MIN_TIMEOUT = Duration.minutes(5);
const MAX_TIMEOUT = Duration.hours(3);
// The new format, which IAM's resource for UpdateService names; the old `service/NAME` has no cluster.
const SERVICE_ARN_PATTERN = /^arn:aws[a-z-]*:ecs:([a-z0-9-]+):(\d{12}):service\/[^/]+\/[^/]+$/;

/**
 * Rolls the apps that hold one key after every promotion of the secret, outside the four rotation
 * steps: Secrets Manager's own `Secret Label Updated` event for AWSCURRENT on this secret (no CloudTrail
 * needed) starts a Step Functions workflow that puts rekey's `Secret version promoted` event on the
 * default bus and forces a new deployment of each ECS service, waiting until ECS completes it, then
 * sweeps what the old tasks wrote under the old key meanwhile. The rule retries delivery and keeps what
 * it cannot deliver in a dead-letter queue; {@link AppRestarts.alarm} fires when an execution fails,
 * times out or is stopped, or an event was not delivered. `AppSecretRotation` creates one for
 * `restartAfterPromotion` and `addRestarts`; on its own it serves a secret rotated elsewhere.
 *
 * @example
 * const restarts = new AppRestarts(this, 'Restarts', {
 *   secret: rotation.secret,
 *   sweep: { rotationFunction: rotation.rotationFunction, secretId: rotation.secretId },
 *   ecsServices: [redashServer, redashWorker],
 *   alarmTopic,
 * });
 * @throws PropsError (constructor) naming this construct's path, the prop, the value and what is allowed.
 */
export class AppRestarts extends Construct {
  /** The rule matching promotions of this secret. */
  readonly rule: Rule;
  /** The workflow that announces the promotion and rolls the services. */
  readonly stateMachine: StateMachine;
  /** The workflow's log group (every state, with its input and output: ARNs and ids, never a value). */
  readonly logGroup: LogGroup;
  /** Promotion events the rule could not deliver to the workflow after its retries. */
  readonly deadLetterQueue: Queue;
  /**
   * Alarm: apps did not follow a promotion (a failed, timed out or stopped execution, which includes a
   * failed restart, event or sweep; an undelivered promotion event).
   */
  readonly alarm: Alarm;

  /**
   * @throws PropsError naming this construct's path, the prop, the value and what is allowed.
   */
  constructor(scope: Construct, id: string, props: AppRestartsProps) {
    super(scope, id);
    const services = checkServices(this, props.ecsServices ?? []);
    const timeout = props.timeout ?? Duration.minutes(30);
    checkTimeout(this, timeout);

    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention ?? RetentionDays.ONE_YEAR });
    this.stateMachine = new StateMachine(this, 'Workflow', {
      comment: 'rekey: announce a promotion of the app secret and roll the ECS services that hold one key',
      queryLanguage: QueryLanguage.JSONATA,
      definitionBody: DefinitionBody.fromChainable(
        restartWorkflow(this, { services, timeout, sweep: sweepOf(props) }),
      ),
      // Retries and the polls' last wait can outlast the restart timeout by a little, never by this much.
      timeout: timeout.plus(Duration.minutes(15)),
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
    });
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SF2',
      reason:
        'The workflow makes only Step Functions service integrations (PutEvents, UpdateService, ' +
        'DescribeServices); its execution history and ALL-level logs show every call. X-Ray would add ' +
        'xray:PutTraceSegments on * to its role for no further insight.',
    });
    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions logging to CloudWatch Logs needs the log-delivery actions (logs:CreateLogDelivery ' +
        'and the like), which support no resource-level permission; the ECS and EventBridge statements ' +
        'name exact ARNs.',
    });

    this.deadLetterQueue = new Queue(this, 'Undelivered', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SQS3',
      reason: "This queue is the dead-letter queue of the promotion rule's target; it needs none of its own.",
    });
    this.rule = new Rule(this, 'Promoted', {
      description: 'A new version of the rekey app secret is AWSCURRENT: roll the apps that hold one key',
      eventPattern: promotionEventPattern(props.secret),
      targets: [
        new SfnStateMachine(this.stateMachine, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });

    this.alarm = new Alarm(this, 'DidNotFollowAlarm', {
      alarmDescription:
        'Apps did not follow a promotion of the rekey secret: a restart failed, timed out or was stopped, ' +
        "or the promotion event never reached the workflow; see the workflow's executions and docs/apps.md",
      metric: this.metricDidNotFollow(),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) this.alarm.addAlarmAction(new SnsAction(props.alarmTopic));
  }

  /**
   * What {@link alarm} watches: executions that failed, timed out or were stopped, plus events left in the
   * dead-letter queue. Step Functions sends its metrics only when they are not zero, hence `FILL`.
   * @default - over 5 minutes
   */
  metricDidNotFollow(period: Duration = Duration.minutes(5)): IMetric {
    return new MathExpression({
      label: 'Promotions the apps did not follow',
      expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0) + FILL(undelivered, 0)',
      usingMetrics: {
        failed: this.stateMachine.metricFailed({ statistic: 'Sum' }),
        timedOut: this.stateMachine.metricTimedOut({ statistic: 'Sum' }),
        aborted: this.stateMachine.metricAborted({ statistic: 'Sum' }),
        undelivered: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' }),
      },
      period,
    });
  }
}

/**
 * The sweep to run, if any, through the function's `$LATEST` qualifier, which is what an unqualified
 * invocation runs: granting the function itself would let the workflow's role invoke `ARN` and `ARN:*`
 * (every version and alias), the qualified one exactly `ARN:$LATEST`.
 */
function sweepOf(props: AppRestartsProps): SweepAfterRestart | undefined {
  if (props.sweep === undefined || !(props.sweepAfterRestart ?? true)) return undefined;
  return { secretId: props.sweep.secretId, rotationFunction: props.sweep.rotationFunction.latestVersion };
}

function checkServices(scope: Construct, services: readonly IBaseService[]): ServiceToRestart[] {
  if (services.length > MAX_RESTARTED_SERVICES) {
    throw new PropsError(
      `ecsServices holds at most ${MAX_RESTARTED_SERVICES} services (the workflow role's policy lists them all), ` +
        `got ${services.length}; split them over two AppRestarts`,
      { scope },
    );
  }
  const stack = Stack.of(scope);
  const seen = new Set<string>();
  return services.map((service) => {
    const arn = service.serviceArn;
    if (!Token.isUnresolved(arn)) {
      const match = SERVICE_ARN_PATTERN.exec(arn);
      if (!match) {
        throw new PropsError(
          `ecsServices must hold services with long-format ARNs (arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME), got '${arn}'`,
          { scope },
        );
      }
      const [, region, account] = match;
      const elsewhere =
        (!Token.isUnresolved(stack.region) && region !== stack.region) ||
        (!Token.isUnresolved(stack.account) && account !== stack.account);
      if (elsewhere) {
        throw new PropsError(
          `ecsServices must be in this stack's account and region (${stack.account}, ${stack.region}), got '${arn}'`,
          { scope },
        );
      }
      if (seen.has(arn)) {
        throw new PropsError(`ecsServices names '${arn}' twice`, { scope });
      }
      seen.add(arn);
    }
    return { cluster: service.cluster.clusterArn, service: arn };
  });
}

function checkTimeout(scope: Construct, timeout: Duration): void {
  const seconds = timeout.toSeconds();
  if (seconds < MIN_TIMEOUT.toSeconds() || seconds > MAX_TIMEOUT.toSeconds()) {
    throw new PropsError(
      `timeout (how long a restart may take) must be from 5 minutes to 3 hours, got ${timeout.toHumanString()}`,
      { scope },
    );
  }
}
