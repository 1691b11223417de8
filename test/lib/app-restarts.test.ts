import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duration, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Vpc } from 'aws-cdk-lib/aws-ec2';
import {
  BaseService,
  Cluster,
  ContainerImage,
  Secret as EcsSecret,
  FargateService,
  FargateTaskDefinition,
} from 'aws-cdk-lib/aws-ecs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import {
  type AppSecretRotationProps,
  MAX_RESTARTED_SERVICES,
  PERMANENT_ECS_ERRORS,
  PropsError,
} from '../../lib/index.js';
import { runStateMachine, type StateMachine, TaskError } from '../support/asl-jsonata.js';
import {
  ACCOUNT,
  APP_SECRET_ARN,
  type Built,
  build,
  construct,
  iamStatements,
  nagViolations,
  REGION,
  rendered,
  type Statement,
} from './fixtures.js';

const SERVER_ARN = `arn:aws:ecs:${REGION}:${ACCOUNT}:service/main/redash-server`;
const WORKER_ARN = `arn:aws:ecs:${REGION}:${ACCOUNT}:service/main/redash-worker`;
const CLUSTER_ARN = `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/main`;
const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:ops`;
const NEW_VERSION = 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111';

/** The construct rolling the services named by ARN (imported the way an app in another stack would). */
function withServices(
  arns: readonly string[],
  extra: Partial<NonNullable<AppSecretRotationProps['restartAfterPromotion']>> = {},
): (stack: Stack) => Partial<AppSecretRotationProps> {
  return (stack) => ({
    restartAfterPromotion: {
      ecsServices: arns.map((arn, i) => BaseService.fromServiceArnWithCluster(stack, `Service${i}`, arn)),
      ...extra,
    },
  });
}

function only<T>(values: Record<string, T>, what: string): T {
  const all = Object.values(values);
  assert.equal(all.length, 1, `one ${what}`);
  return all[0] as T;
}

/** Statements that grant an action of `service` (`ecs`, `events`, ...). */
function statementsFor(template: Template, service: string): Statement[] {
  const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
  return iamStatements(template).filter((s) => actions(s).some((a) => a.startsWith(`${service}:`)));
}

/**
 * The state machine's definition, as Step Functions gets it: the partition resolved to `aws`, other
 * references to `<LogicalId>` or `<LogicalId.Attribute>`.
 */
function definitionOf(template: Template): StateMachine {
  const machine = only(template.findResources('AWS::StepFunctions::StateMachine'), 'state machine') as {
    Properties: { DefinitionString: { 'Fn::Join': [string, unknown[]] } };
  };
  const parts = machine.Properties.DefinitionString['Fn::Join'][1].map((part) => {
    if (typeof part === 'string') return part;
    const token = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
    if (token.Ref === 'AWS::Partition') return 'aws';
    if (token.Ref !== undefined) return `<${token.Ref}>`;
    if (token['Fn::GetAtt'] !== undefined) return `<${token['Fn::GetAtt'].join('.')}>`;
    throw new Error(`unexpected token in the definition: ${JSON.stringify(part)}`);
  });
  return JSON.parse(parts.join('')) as StateMachine;
}

/** How a token of `built` appears in the definition (see {@link definitionOf}). */
function inDefinition(built: Built, value: string): string {
  const token = rendered(built, value) as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  return token.Ref !== undefined ? `<${token.Ref}>` : `<${token['Fn::GetAtt']?.join('.')}>`;
}

/** The event Secrets Manager sends when AWSCURRENT moves (its documented example, for our secret). */
const LABEL_UPDATED = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'Secret Label Updated',
  source: 'aws.secretsmanager',
  account: ACCOUNT,
  time: '2026-12-06T16:43:48Z',
  region: REGION,
  resources: [APP_SECRET_ARN],
  detail: { name: 'prod/app-key', labelUpdated: 'AWSCURRENT', versionId: NEW_VERSION },
};

/** How a fake ECS service behaves after a forced deployment. */
interface ServiceScript {
  /** Errors UpdateService throws, one per call, before it succeeds. */
  readonly updateErrors?: string[];
  /** The DescribeServices call (1-based) at which the new deployment completes; never without. */
  readonly completesAt?: number;
  /** The DescribeServices call at which the circuit breaker fails the deployment. */
  readonly failsAt?: number;
  /** The DescribeServices call at which another deployment takes over as PRIMARY. */
  readonly supersededAt?: number;
  /** Deployments carry no RolloutState (the service then counts as stable with one deployment left). */
  readonly noRolloutState?: boolean;
  /** The DescribeServices call from which on the service is gone (deleted meanwhile). */
  readonly deletedAt?: number;
}

interface Deployment {
  Id: string;
  Status: string;
  RolloutState?: string;
  DesiredCount: number;
  RunningCount: number;
}

/** ECS and EventBridge as the workflow's Task states reach them, recording every call. */
class FakeAws {
  readonly calls: { resource: string; args: Record<string, unknown> }[] = [];
  putEventsErrors: string[] = [];
  sweepErrors: string[] = [];
  private readonly services = new Map<string, { script: ServiceScript; deployments: Deployment[] }>();
  private readonly describes = new Map<string, number>();
  private next = 1;

  constructor(scripts: Record<string, ServiceScript>) {
    for (const [arn, script] of Object.entries(scripts)) {
      this.services.set(arn, { script: { ...script }, deployments: [this.deployment('COMPLETED')] });
    }
  }

  readonly integration = (resource: string, args: Record<string, unknown>): unknown => {
    this.calls.push({ resource, args });
    switch (resource) {
      case 'arn:aws:states:::events:putEvents': {
        const error = this.putEventsErrors.shift();
        if (error) throw new TaskError(error);
        return { Entries: [{ EventId: 'e1' }], FailedEntryCount: 0 };
      }
      case 'arn:aws:states:::aws-sdk:ecs:updateService':
        return this.updateService(args);
      case 'arn:aws:states:::aws-sdk:ecs:describeServices':
        return this.describeServices(args);
      case 'arn:aws:states:::lambda:invoke': {
        const error = this.sweepErrors.shift();
        if (error) throw new TaskError(error, 'injected');
        return { StatusCode: 200, Payload: null };
      }
      default:
        throw new Error(`unexpected resource ${resource}`);
    }
  };

  callsTo(action: string): Record<string, unknown>[] {
    return this.calls.filter((c) => c.resource.endsWith(`:${action}`)).map((c) => c.args);
  }

  private deployment(state: string): Deployment {
    const deployment: Deployment = {
      Id: `ecs-svc/${this.next++}`,
      Status: 'PRIMARY',
      DesiredCount: 2,
      RunningCount: 2,
    };
    if (state !== '') deployment.RolloutState = state;
    return deployment;
  }

  private updateService(args: Record<string, unknown>): unknown {
    const service = this.services.get(String(args.Service));
    if (!service) throw new TaskError('Ecs.ServiceNotFoundException', 'Service not found.');
    const error = service.script.updateErrors?.shift();
    if (error) throw new TaskError(error, 'injected');
    for (const d of service.deployments) d.Status = 'ACTIVE';
    const fresh = this.deployment(service.script.noRolloutState ? '' : 'IN_PROGRESS');
    fresh.RunningCount = 0;
    service.deployments.unshift(fresh);
    return { Service: { ServiceArn: args.Service, Status: 'ACTIVE', Deployments: service.deployments } };
  }

  private describeServices(args: Record<string, unknown>): unknown {
    const arn = String((args.Services as string[])[0]);
    const service = this.services.get(arn);
    const call = (this.describes.get(arn) ?? 0) + 1;
    this.describes.set(arn, call);
    if (!service || call >= (service.script.deletedAt ?? Number.POSITIVE_INFINITY)) {
      return { Services: [], Failures: [{ Arn: arn, Reason: 'MISSING' }] };
    }
    const [mine] = service.deployments;
    const { script } = service;
    if (mine && call === script.completesAt) {
      if (!script.noRolloutState) mine.RolloutState = 'COMPLETED';
      mine.RunningCount = mine.DesiredCount;
      service.deployments = [mine];
    }
    if (mine && call === script.failsAt) mine.RolloutState = 'FAILED';
    if (mine && call === script.supersededAt) {
      mine.Status = 'ACTIVE';
      service.deployments.unshift(this.deployment('IN_PROGRESS'));
    }
    return {
      Services: [{ ServiceArn: arn, Status: 'ACTIVE', Deployments: service.deployments }],
      Failures: [],
    };
  }
}

async function execute(built: Built, fake: FakeAws) {
  return runStateMachine(definitionOf(built.template), LABEL_UPDATED, fake.integration);
}

describe('the restart wiring', () => {
  it('is absent without restartAfterPromotion: no state machine, queue or extra rule', () => {
    const built = build();
    assert.equal(built.rotation.restarts, undefined);
    built.template.resourceCountIs('AWS::StepFunctions::StateMachine', 0);
    built.template.resourceCountIs('AWS::SQS::Queue', 0);
    const rules = Object.values(built.template.findResources('AWS::Events::Rule')) as {
      Properties: { EventPattern?: { 'detail-type'?: string[] } };
    }[];
    assert.ok(
      rules.every((r) => !r.Properties.EventPattern?.['detail-type']?.includes('Secret Label Updated')),
    );
    assert.deepEqual(statementsFor(built.template, 'ecs'), []);
    assert.deepEqual(statementsFor(built.template, 'events'), []);
  });

  it("starts on Secrets Manager's Secret Label Updated event for AWSCURRENT on this secret only", () => {
    const built = build({}, withServices([SERVER_ARN]));
    built.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.secretsmanager'],
        'detail-type': ['Secret Label Updated'],
        resources: [rendered(built, built.rotation.secret.secretArn)],
        detail: { labelUpdated: ['AWSCURRENT'] },
      },
      Targets: [
        Match.objectLike({ Arn: rendered(built, built.rotation.restarts?.stateMachine.stateMachineArn) }),
      ],
    });
  });

  it('matches an existing secret by its full ARN, or by exact name and ARN prefix when only its name is known', () => {
    const byArn = build({}, (stack) => ({
      ...withServices([SERVER_ARN])(stack),
      secret: Secret.fromSecretCompleteArn(stack, 'App', APP_SECRET_ARN),
    }));
    byArn.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        resources: [APP_SECRET_ARN],
        detail: { labelUpdated: ['AWSCURRENT'] },
      }),
    });
    const byName = build({}, (stack) => ({
      ...withServices([SERVER_ARN])(stack),
      secret: Secret.fromSecretNameV2(stack, 'App', 'prod/app-key'),
    }));
    byName.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        resources: [{ prefix: rendered(byName, `${byName.rotation.secret.secretArn}-`) }],
        detail: { labelUpdated: ['AWSCURRENT'], name: ['prod/app-key'] },
      }),
    });
  });

  it('delivers with retries and keeps what it cannot deliver in an encrypted dead-letter queue', () => {
    const built = build({}, withServices([SERVER_ARN]));
    const queue = built.rotation.restarts?.deadLetterQueue;
    built.template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 },
          DeadLetterConfig: { Arn: rendered(built, queue?.queueArn) },
        }),
      ],
    });
    built.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  });

  it('logs every state of the workflow to its own log group and times out after the restart timeout', () => {
    const built = build({}, withServices([SERVER_ARN], { timeout: Duration.minutes(20) }));
    built.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
    assert.equal(
      (definitionOf(built.template) as unknown as { TimeoutSeconds: number }).TimeoutSeconds,
      35 * 60,
    );
  });
});

describe('least-privilege IAM of the restarts', () => {
  it('may update and describe exactly the given services, and no ECS action on anything else', () => {
    const built = build({}, withServices([SERVER_ARN, WORKER_ARN]));
    assert.deepEqual(statementsFor(built.template, 'ecs'), [
      { Effect: 'Allow', Action: 'ecs:UpdateService', Resource: [SERVER_ARN, WORKER_ARN] },
      { Effect: 'Allow', Action: 'ecs:DescribeServices', Resource: [SERVER_ARN, WORKER_ARN] },
    ]);
  });

  it('names services of the same stack, whose tasks read the new secret, by their ARN (addRestarts)', () => {
    const { stack, rotation } = construct();
    const cluster = new Cluster(stack, 'Cluster', { vpc: new Vpc(stack, 'Vpc', { natGateways: 0 }) });
    const taskDefinition = new FargateTaskDefinition(stack, 'Task');
    taskDefinition.addContainer('server', {
      image: ContainerImage.fromRegistry('redash/redash'),
      secrets: { REDASH_SECRET_KEY: EcsSecret.fromSecretsManager(rotation.secret, 'encryptionKey') },
    });
    const service = new FargateService(stack, 'Redash', { cluster, taskDefinition });
    const restarts = rotation.addRestarts({ ecsServices: [service] });
    assert.equal(rotation.restarts, restarts);
    const ecs = statementsFor(Template.fromStack(stack), 'ecs');
    assert.equal(ecs.length, 2);
    for (const s of ecs) assert.deepEqual(s.Resource, rendered({ stack }, service.serviceArn));
    assert.throws(
      () => rotation.addRestarts({}),
      (e: unknown) => e instanceof PropsError && /already added/.test(e.message),
    );
  });

  it('may invoke the rotation function for the sweep as $LATEST only, not its other versions', () => {
    const built = build({}, withServices([SERVER_ARN]));
    assert.deepEqual(statementsFor(built.template, 'lambda'), [
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: rendered(built, built.rotation.rotationFunction.latestVersion.functionArn),
      },
    ]);
  });

  it('may put events on the default bus of this account and region only', () => {
    const built = build({}, withServices([SERVER_ARN]));
    assert.deepEqual(statementsFor(built.template, 'events'), [
      {
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Resource: {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, `:events:${REGION}:${ACCOUNT}:event-bus/default`],
          ],
        },
      },
    ]);
  });

  it('has no statement with a wildcard resource but the log delivery that Step Functions logging needs', () => {
    const built = build({}, withServices([SERVER_ARN]));
    const wildcards = iamStatements(built.template).filter((s) =>
      (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).some(
        (r) => typeof r === 'string' && r.includes('*'),
      ),
    );
    const actions = wildcards.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    assert.ok(actions.length > 0);
    assert.ok(
      actions.every((a) => a.startsWith('logs:')),
      actions.join(', '),
    );
  });
});

describe('the restart alarm', () => {
  it('fires on a failed, timed-out or stopped execution or an undelivered event, and goes to the topic', () => {
    const built = build({}, (stack) => ({
      ...withServices([SERVER_ARN])(stack),
      alarmTopic: Topic.fromTopicArn(stack, 'Ops', TOPIC_ARN),
    }));
    const alarm = built.rotation.restarts?.alarm;
    assert.ok(alarm);
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: [TOPIC_ARN],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: Match.stringLikeRegexp('failed.*timedOut.*aborted.*undelivered') }),
        Match.objectLike({
          MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ExecutionsFailed' }) }),
        }),
        Match.objectLike({
          MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ExecutionsTimedOut' }) }),
        }),
        Match.objectLike({
          MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ExecutionsAborted' }) }),
        }),
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({ MetricName: 'ApproximateNumberOfMessagesVisible' }),
          }),
        }),
      ]),
    });
  });
});

describe('the restart workflow, run on the synthesized definition', () => {
  it('announces the promotion and forces a new deployment of exactly the given services, then waits for them', async () => {
    const built = build({}, withServices([SERVER_ARN, WORKER_ARN]));
    const fake = new FakeAws({ [SERVER_ARN]: { completesAt: 2 }, [WORKER_ARN]: { completesAt: 1 } });
    const run = await execute(built, fake);
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.deepEqual(fake.callsTo('putEvents'), [
      {
        Entries: [
          {
            Source: 'rekey',
            DetailType: 'Secret version promoted',
            Detail: { secretArn: APP_SECRET_ARN, versionId: NEW_VERSION },
          },
        ],
      },
    ]);
    assert.deepEqual(
      fake.callsTo('updateService').sort((a, b) => String(a.Service).localeCompare(String(b.Service))),
      [
        { Cluster: CLUSTER_ARN, Service: SERVER_ARN, ForceNewDeployment: true },
        { Cluster: CLUSTER_ARN, Service: WORKER_ARN, ForceNewDeployment: true },
      ],
    );
    assert.equal(fake.callsTo('describeServices').length, 3);
    assert.deepEqual(run.waits, [30, 30, 30]);
  });

  it('retries throttling and other transient errors, and counts the service restarted', async () => {
    const built = build({}, withServices([SERVER_ARN]));
    const fake = new FakeAws({
      [SERVER_ARN]: { updateErrors: ['Ecs.ThrottlingException', 'Ecs.ServerException'], completesAt: 1 },
    });
    const run = await execute(built, fake);
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.equal(fake.callsTo('updateService').length, 3);
    assert.deepEqual(
      run.retries.map((r) => r.error),
      ['Ecs.ThrottlingException', 'Ecs.ServerException'],
    );
  });

  it('does not retry an error that asking again cannot cure, rolls the other services, and fails naming the one left', async () => {
    const built = build({}, withServices([SERVER_ARN, WORKER_ARN]));
    const fake = new FakeAws({
      [SERVER_ARN]: { updateErrors: ['Ecs.ServiceNotActiveException'] },
      [WORKER_ARN]: { completesAt: 1 },
    });
    const run = await execute(built, fake);
    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'Rekey.AppsDidNotFollow');
    assert.equal(fake.callsTo('updateService').length, 2);
    assert.deepEqual(run.retries, []);
    const cause = JSON.parse(run.cause ?? '{}');
    assert.deepEqual(cause.notRestarted, [
      {
        cluster: CLUSTER_ARN,
        service: SERVER_ARN,
        outcome: 'FAILED',
        error: 'Ecs.ServiceNotActiveException',
      },
    ]);
    assert.equal(cause.announceError, null);
  });

  it('fails when the circuit breaker fails the new deployment', async () => {
    const built = build({}, withServices([SERVER_ARN]));
    const run = await execute(built, new FakeAws({ [SERVER_ARN]: { failsAt: 3 } }));
    assert.equal(run.status, 'FAILED');
    assert.equal(JSON.parse(run.cause ?? '{}').notRestarted[0].error, 'Rekey.DeploymentFailed');
    assert.equal(run.waits.length, 3);
  });

  it('gives up after the timeout, polling at most 60 times and no more often than every 30 s', async () => {
    const built = build({}, withServices([SERVER_ARN], { timeout: Duration.hours(2) }));
    const fake = new FakeAws({ [SERVER_ARN]: {} });
    const run = await execute(built, fake);
    assert.equal(run.status, 'FAILED');
    assert.equal(JSON.parse(run.cause ?? '{}').notRestarted[0].error, 'Rekey.RestartTimedOut');
    assert.equal(run.waits.length, 60);
    assert.ok(run.waits.every((s) => s === 120));
    assert.equal(fake.callsTo('describeServices').length, 60);
  });

  it('counts a service restarted when a later deployment supersedes its own', async () => {
    const built = build({}, withServices([SERVER_ARN]));
    const run = await execute(built, new FakeAws({ [SERVER_ARN]: { supersededAt: 2 } }));
    assert.equal(run.status, 'SUCCEEDED', run.cause);
  });

  it('counts a service without a rollout state restarted once its new deployment is the only one and runs all tasks', async () => {
    const built = build({}, withServices([SERVER_ARN]));
    const run = await execute(built, new FakeAws({ [SERVER_ARN]: { noRolloutState: true, completesAt: 2 } }));
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.equal(run.waits.length, 2);
  });

  it('fails when a service is gone, before or during its restart', async () => {
    const built = build({}, withServices([SERVER_ARN, WORKER_ARN]));
    const run = await execute(built, new FakeAws({ [WORKER_ARN]: { deletedAt: 2 } }));
    assert.equal(run.status, 'FAILED');
    const errors = JSON.parse(run.cause ?? '{}').notRestarted.map((r: { service: string; error: string }) => [
      r.service,
      r.error,
    ]);
    assert.deepEqual(errors, [
      [SERVER_ARN, 'Ecs.ServiceNotFoundException'],
      [WORKER_ARN, 'Rekey.ServiceNotActive'],
    ]);
  });

  it('still rolls the services when the event cannot be put, and then fails naming that error', async () => {
    const built = build({}, withServices([SERVER_ARN]));
    const fake = new FakeAws({ [SERVER_ARN]: { completesAt: 1 } });
    fake.putEventsErrors = Array.from({ length: 5 }, () => 'EventBridge.FailedEntry');
    const run = await execute(built, fake);
    assert.equal(run.status, 'FAILED');
    assert.equal(fake.callsTo('putEvents').length, 5);
    assert.equal(fake.callsTo('updateService').length, 1);
    const cause = JSON.parse(run.cause ?? '{}');
    assert.equal(cause.announceError, 'EventBridge.FailedEntry');
    assert.deepEqual(cause.notRestarted, []);
  });

  it('with no services only announces the promotion', async () => {
    const built = build({ restartAfterPromotion: {} });
    const fake = new FakeAws({});
    const run = await execute(built, fake);
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.equal(fake.callsTo('putEvents').length, 1);
    assert.equal(fake.calls.length, 1);
    assert.deepEqual(statementsFor(built.template, 'ecs'), []);
  });

  it('then sweeps what the old tasks wrote under the old key, once every service has rolled', async () => {
    const built = build({}, withServices([SERVER_ARN, WORKER_ARN]));
    const fake = new FakeAws({ [SERVER_ARN]: { completesAt: 2 }, [WORKER_ARN]: { completesAt: 1 } });
    const run = await execute(built, fake);
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.deepEqual(fake.callsTo('invoke'), [
      {
        FunctionName: `${inDefinition(built, built.rotation.rotationFunction.functionArn)}:$LATEST`,
        Payload: { action: 'sweep', SecretId: inDefinition(built, built.rotation.secretId) },
      },
    ]);
    assert.equal(fake.calls.at(-1)?.resource, 'arn:aws:states:::lambda:invoke');
  });

  it('fails naming the error when the sweep fails after the restarts', async () => {
    const built = build({}, withServices([SERVER_ARN]));
    const fake = new FakeAws({ [SERVER_ARN]: { completesAt: 1 } });
    fake.sweepErrors = ['RotationStateError'];
    const run = await execute(built, fake);
    assert.equal(run.status, 'FAILED');
    const cause = JSON.parse(run.cause ?? '{}');
    assert.equal(cause.sweepError, 'RotationStateError');
    assert.deepEqual(cause.notRestarted, []);
  });

  it('does not sweep with sweepAfterRestart off', async () => {
    const built = build({}, withServices([SERVER_ARN], { sweepAfterRestart: false }));
    const fake = new FakeAws({ [SERVER_ARN]: { completesAt: 1 } });
    const run = await execute(built, fake);
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.deepEqual(fake.callsTo('invoke'), []);
    assert.deepEqual(statementsFor(built.template, 'lambda'), []);
  });

  it('never retries the ECS errors named permanent', () => {
    const definition = definitionOf(build({}, withServices([SERVER_ARN])).template);
    const map = definition.States.RestartServices as unknown as { ItemProcessor: StateMachine };
    for (const name of ['ForceNewDeployment', 'DescribeService']) {
      const retry = (
        map.ItemProcessor.States[name] as unknown as {
          Retry: { ErrorEquals: string[]; MaxAttempts?: number }[];
        }
      ).Retry;
      assert.deepEqual(retry[0], { ErrorEquals: [...PERMANENT_ECS_ERRORS], MaxAttempts: 0 });
    }
  });
});

describe('restartAfterPromotion validation', () => {
  const refused = (withStack: (stack: Stack) => Partial<AppSecretRotationProps>, message: RegExp) => {
    assert.throws(
      () => construct({}, withStack),
      (error: unknown) =>
        error instanceof PropsError &&
        error.constructPath === 'Test/Rotation/Restarts' &&
        message.test(error.message),
    );
  };

  it('refuses more services than one policy can list', () => {
    const arns = Array.from({ length: MAX_RESTARTED_SERVICES + 1 }, (_, i) => `${SERVER_ARN}-${i}`);
    refused(withServices(arns), /at most 20 services.*got 21/);
  });

  it('refuses a service ARN in the old format, which names no cluster', () => {
    refused(
      (stack) => ({
        restartAfterPromotion: {
          ecsServices: [
            FargateService.fromFargateServiceAttributes(stack, 'Old', {
              serviceArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:service/redash`,
              cluster: Cluster.fromClusterArn(stack, 'C', CLUSTER_ARN),
            }),
          ],
        },
      }),
      /long-format ARNs.*service\/redash'/,
    );
  });

  it('refuses a service of another region or account', () => {
    refused(
      withServices([`arn:aws:ecs:us-east-1:${ACCOUNT}:service/main/redash`]),
      /this stack's account and region/,
    );
    refused(
      withServices([`arn:aws:ecs:${REGION}:210987654321:service/main/redash`]),
      /this stack's account and region/,
    );
  });

  it('refuses the same service twice', () => {
    refused(withServices([SERVER_ARN, SERVER_ARN]), /names '.*redash-server' twice/);
  });

  it('refuses a timeout under 5 minutes or over 3 hours', () => {
    refused(
      withServices([SERVER_ARN], { timeout: Duration.minutes(4) }),
      /from 5 minutes to 3 hours, got 4 minutes/,
    );
    refused(withServices([SERVER_ARN], { timeout: Duration.hours(4) }), /got 4 hours/);
  });
});

describe("cdk-nag's AwsSolutions checks with restarts", () => {
  it('find nothing unacknowledged', () => {
    const { app } = construct({}, (stack) => ({
      ...withServices([SERVER_ARN, WORKER_ARN])(stack),
      alarmTopic: Topic.fromTopicArn(stack, 'Ops', TOPIC_ARN),
    }));
    assert.deepEqual(nagViolations(app), []);
  });
});
