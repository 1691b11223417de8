import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Choice,
  Condition,
  Fail,
  type IChainable,
  JitterType,
  Map as MapState,
  Pass,
  ProvideItems,
  type RetryProps,
  Succeed,
  TaskInput,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService, EventBridgePutEvents, LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { PROMOTED_EVENT } from './promotion-event.js';

/** An ECS service to roll: where UpdateService and DescribeServices find it. */
export interface ServiceToRestart {
  /** The cluster's ARN or name. */
  readonly cluster: string;
  /** The service's ARN (the long format, `service/CLUSTER/NAME`, which IAM names). */
  readonly service: string;
}

/** What {@link restartWorkflow} builds. */
export interface RestartWorkflowProps {
  /** The ECS services to roll after a promotion; none: only the event is put. */
  readonly services: readonly ServiceToRestart[];
  /** How long a service may take to run the new deployment's tasks before the restart counts as failed. */
  readonly timeout: Duration;
  /**
   * Run the rotation function's sweep once the services have rolled: rows the old tasks wrote under the
   * old key after the promotion are unreadable to the new tasks (they hold the new key alone) until the
   * sweep moves them, and the scheduled sweep may be hours away.
   * @default - no sweep
   */
  readonly sweep?: SweepAfterRestart;
}

/** The sweep {@link restartWorkflow} runs after the restarts. */
export interface SweepAfterRestart {
  /**
   * The rotation function, best as `fn.latestVersion`: the workflow's role may then invoke exactly
   * `ARN:$LATEST`, where a function itself grants `ARN` and `ARN:*`.
   */
  readonly rotationFunction: IFunction;
  /** How the function names the secret (`AppSecretRotation.secretId`). */
  readonly secretId: string;
}

/** The `error` of the Fail state an execution ends in when an app did not follow the promotion. */
export const APPS_DID_NOT_FOLLOW = 'Rekey.AppsDidNotFollow';

/**
 * The most DescribeServices polls per service. Each poll adds about nine events to the execution's
 * history (Wait, Task, Choice), which Step Functions caps at 25,000: 60 polls for each of 20 services
 * stay well inside it, so a longer timeout polls less often instead of more.
 */
export const MAX_POLLS = 60;
/** The shortest time between two polls of a service. */
export const MIN_POLL_INTERVAL = Duration.seconds(30);

/**
 * ECS errors that asking again will not cure (UpdateService's and DescribeServices' documented
 * errors, named the way Step Functions names AWS SDK errors: `Ecs.` and the exception). The first
 * retrier lists them with no attempts, the second retries everything else, so an error whose name
 * Step Functions spells otherwise (throttling, an internal error) is retried rather than dropped.
 */
export const PERMANENT_ECS_ERRORS = [
  'Ecs.AccessDeniedException',
  'Ecs.ClientException',
  'Ecs.ClusterNotFoundException',
  'Ecs.InvalidParameterException',
  'Ecs.NamespaceNotFoundException',
  'Ecs.PlatformTaskDefinitionIncompatibilityException',
  'Ecs.PlatformUnknownException',
  'Ecs.ServiceNotActiveException',
  'Ecs.ServiceNotFoundException',
  'Ecs.UnsupportedFeatureException',
] as const;

/** Exponential backoff with full jitter, a few attempts: the retry of every call the workflow makes. */
export const TRANSIENT_RETRY: RetryProps = {
  errors: ['States.TaskFailed', 'States.Timeout'],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 4,
  maxDelay: Duration.seconds(30),
  jitterStrategy: JitterType.FULL,
};

/**
 * Where a forced deployment stands, from DescribeServices' result (`$states.result`) and the id of the
 * deployment UpdateService started (`$deploymentId`):
 * - `MISSING`: the service is gone or no longer ACTIVE;
 * - `SUPERSEDED`: another deployment is PRIMARY now (a later promotion's, or an app's own deploy), whose
 *   tasks also start with the value now AWSCURRENT; whoever started it watches it;
 * - `FAILED`: the deployment circuit breaker gave up on it;
 * - `COMPLETED`: ECS reached a steady state with it (RolloutState), or, for a service without a rollout
 *   state, it is the only deployment left and runs all its tasks (what `aws ecs wait services-stable`
 *   checks);
 * - `IN_PROGRESS`: none of these yet.
 */
export const ROLLOUT_STATE = `(
  $svc := $states.result.Services[0];
  $mine := $svc.Deployments[Id = $deploymentId];
  $not($exists($svc)) or $svc.Status != 'ACTIVE' ? 'MISSING' :
  $not($exists($mine)) or $mine.Status != 'PRIMARY' ? 'SUPERSEDED' :
  $mine.RolloutState = 'FAILED' ? 'FAILED' :
  $mine.RolloutState = 'COMPLETED' ? 'COMPLETED' :
  $not($exists($mine.RolloutState)) and $count($svc.Deployments) = 1 and $mine.RunningCount = $mine.DesiredCount
    ? 'COMPLETED' : 'IN_PROGRESS'
)`;

/** The id of the deployment UpdateService started, from its result: the one PRIMARY now. */
export const NEW_DEPLOYMENT_ID = `$states.result.Service.Deployments[Status = 'PRIMARY'].Id`;

/**
 * The restart workflow, in JSONata, whose input is Secrets Manager's `Secret Label Updated` event:
 * 1. put rekey's {@link PROMOTED_EVENT} on the default bus (retried; a failure is remembered and does not
 *    keep the services from rolling);
 * 2. force a new deployment of every service at once (an inline Map; each iteration catches its own
 *    failure so that one service cannot stop the others), then poll DescribeServices until the new
 *    deployment completes, fails, is superseded, or the timeout runs out;
 * 3. with `sweep`, invoke the rotation function's sweep, which moves what the old tasks wrote under the
 *    old key meanwhile to the new one;
 * 4. end in {@link APPS_DID_NOT_FOLLOW}, naming the event's error, every service that did not roll and
 *    the sweep's error, when anything failed, so that the execution counts as failed and the alarm fires.
 * No Lambda code of its own: every call is a Step Functions service integration (the sweep invokes the
 * rotation function that is there already).
 */
export function restartWorkflow(scope: Construct, props: RestartWorkflowProps): IChainable {
  const readEvent = Pass.jsonata(scope, 'ReadPromotion', {
    comment: "Secrets Manager's Secret Label Updated event: the secret's ARN and the new AWSCURRENT version",
    assign: {
      secretArn: '{% $states.input.resources[0] %}',
      versionId: '{% $states.input.detail.versionId %}',
    },
  });
  const announce = EventBridgePutEvents.jsonata(scope, 'AnnouncePromotion', {
    comment: 'The event anything that is not an ECS service can follow (a Kubernetes rollout, a pipeline)',
    entries: [
      {
        source: PROMOTED_EVENT.source,
        detailType: PROMOTED_EVENT.detailType,
        detail: TaskInput.fromObject({ secretArn: '{% $secretArn %}', versionId: '{% $versionId %}' }),
      },
    ],
    assign: { announced: true, announceError: null },
  });
  announce.addRetry(TRANSIENT_RETRY);

  const restarts = props.services.length === 0 ? undefined : restartEach(scope, props);
  const sweep =
    restarts === undefined || props.sweep === undefined ? undefined : sweepAfter(scope, props.sweep);
  const followed = ['$announced'];
  const cause = ["'secretArn': $secretArn", "'announceError': $announceError"];
  if (restarts) {
    followed.push("$count($restarts[outcome = 'FAILED']) = 0");
    cause.push("'notRestarted': [$restarts[outcome = 'FAILED']]");
  }
  if (sweep) {
    followed.push('$swept');
    cause.push("'sweepError': $sweepError");
  }
  const settled = Choice.jsonata(scope, 'DidAppsFollow')
    .when(Condition.jsonata(`{% ${followed.join(' and ')} %}`), Succeed.jsonata(scope, 'AppsFollowed'))
    .otherwise(
      Fail.jsonata(scope, 'AppsDidNotFollow', {
        error: APPS_DID_NOT_FOLLOW,
        cause: `{% $string({${cause.join(', ')}}) %}`,
      }),
    );
  sweep?.addCatch(settled, {
    errors: ['States.ALL'],
    assign: { swept: false, sweepError: '{% $states.errorOutput.Error %}' },
  });
  announce.addCatch(restarts ?? settled, {
    errors: ['States.ALL'],
    assign: { announced: false, announceError: '{% $states.errorOutput.Error %}' },
  });
  let chain = readEvent.next(announce);
  if (restarts) chain = chain.next(restarts);
  if (sweep) chain = chain.next(sweep);
  return chain.next(settled);
}

/** The sweep of what old tasks wrote under the old key; `$swept` says whether it ran. */
function sweepAfter(scope: Construct, sweep: SweepAfterRestart): LambdaInvoke {
  const task = LambdaInvoke.jsonata(scope, 'SweepStragglers', {
    comment: 'Moves rows the old tasks wrote under the old key after the promotion to the new key',
    lambdaFunction: sweep.rotationFunction,
    payload: TaskInput.fromObject({ action: 'sweep', SecretId: sweep.secretId }),
    assign: { swept: true, sweepError: null },
    outputs: {},
  });
  return task;
}

/** The Map that rolls every service and records each outcome in `$restarts`. */
function restartEach(scope: Construct, props: RestartWorkflowProps): MapState {
  const serviceArns = props.services.map((s) => s.service);
  const seconds = Math.max(MIN_POLL_INTERVAL.toSeconds(), Math.ceil(props.timeout.toSeconds() / MAX_POLLS));
  const polls = Math.ceil(props.timeout.toSeconds() / seconds);
  const failed = (error: string) => `{% $merge([$states.input, {'outcome': 'FAILED', 'error': ${error}}]) %}`;

  const notRestarted = Pass.jsonata(scope, 'NotRestarted', {
    comment: 'This service did not roll: its outcome is FAILED, with the error',
  });
  const restarted = Pass.jsonata(scope, 'Restarted', {
    comment: "This service runs tasks started after the promotion (or a later deployment's)",
  });
  const catchAll = { errors: ['States.ALL'], outputs: failed('$states.errorOutput.Error') };

  const forceNewDeployment = CallAwsService.jsonata(scope, 'ForceNewDeployment', {
    comment: 'New tasks read the secret when they start, so they get the value now AWSCURRENT',
    service: 'ecs',
    action: 'updateService',
    iamAction: 'ecs:UpdateService',
    iamResources: serviceArns,
    parameters: {
      Cluster: '{% $states.input.cluster %}',
      Service: '{% $states.input.service %}',
      ForceNewDeployment: true,
    },
    assign: { deploymentId: `{% ${NEW_DEPLOYMENT_ID} %}`, polls: 0 },
    outputs: '{% $states.input %}',
  });
  forceNewDeployment.addRetry({ errors: [...PERMANENT_ECS_ERRORS], maxAttempts: 0 });
  forceNewDeployment.addRetry(TRANSIENT_RETRY);
  forceNewDeployment.addCatch(notRestarted, catchAll);

  const wait = Wait.jsonata(scope, 'WaitForNewTasks', {
    time: WaitTime.duration(Duration.seconds(seconds)),
  });
  const describe = CallAwsService.jsonata(scope, 'DescribeService', {
    service: 'ecs',
    action: 'describeServices',
    iamAction: 'ecs:DescribeServices',
    iamResources: serviceArns,
    parameters: {
      Cluster: '{% $states.input.cluster %}',
      Services: ['{% $states.input.service %}'],
    },
    assign: { rollout: `{% ${ROLLOUT_STATE} %}`, polls: '{% $polls + 1 %}' },
    outputs: '{% $states.input %}',
  });
  describe.addRetry({ errors: [...PERMANENT_ECS_ERRORS], maxAttempts: 0 });
  describe.addRetry(TRANSIENT_RETRY);
  describe.addCatch(notRestarted, catchAll);

  const rolledOut = Choice.jsonata(scope, 'RolledOut')
    .when(Condition.jsonata("{% $rollout in ['COMPLETED', 'SUPERSEDED'] %}"), restarted, {
      outputs: "{% $merge([$states.input, {'outcome': $rollout}]) %}",
    })
    .when(Condition.jsonata("{% $rollout = 'FAILED' %}"), notRestarted, {
      outputs: failed("'Rekey.DeploymentFailed'"),
    })
    .when(Condition.jsonata("{% $rollout = 'MISSING' %}"), notRestarted, {
      outputs: failed("'Rekey.ServiceNotActive'"),
    })
    .when(Condition.jsonata(`{% $polls >= ${polls} %}`), notRestarted, {
      outputs: failed("'Rekey.RestartTimedOut'"),
    })
    .otherwise(wait);

  return MapState.jsonata(scope, 'RestartServices', {
    comment: 'Every service at once; each iteration ends with its outcome, failures included',
    items: ProvideItems.jsonArray(props.services.map((s) => ({ cluster: s.cluster, service: s.service }))),
    assign: { restarts: '{% $states.result %}' },
  }).itemProcessor(forceNewDeployment.next(wait).next(describe).next(rolledOut));
}
