import { fileURLToPath } from 'node:url';
import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SnsTopic } from 'aws-cdk-lib/aws-events-targets';
import { AnyPrincipal, Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IDatabaseCluster } from 'aws-cdk-lib/aws-rds';
import { CfnRotationSchedule, type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { parseConfig, type RekeyConfigInput } from '../lambda/config.js';
import { type RotationScheduleSpec, rotationRules, sweepExpression } from './rotation-schedule.js';

/** What rekey rotates and re-encrypts: the config file's fields other than the Data API target. */
export type RekeySettings = Omit<RekeyConfigInput, 'dataApi' | 'secretId'>;

/** Props of {@link AppSecretRotation}. */
export interface AppSecretRotationProps {
  /** The secret template, data key field, codec, stored fields, paging and row policies. */
  readonly settings: RekeySettings;
  /**
   * The app secret to rotate.
   * @default - a new secret; write its first value with `rekey init` before the first rotation
   */
  readonly secret?: ISecret;
  /** The Aurora cluster, with the Data API enabled (give this or `clusterArn`). @default - `clusterArn` */
  readonly cluster?: IDatabaseCluster;
  /** The cluster's ARN, for a cluster defined elsewhere. @default - `cluster.clusterArn` */
  readonly clusterArn?: string;
  /** The secret the Data API signs in to the database with. */
  readonly credentialsSecret: ISecret;
  /** The database holding the stored fields. */
  readonly databaseName: string;
  /** The cluster's engine. */
  readonly engine: 'postgres' | 'mysql';
  /** When rotations run. @default - every 30 days */
  readonly schedule?: RotationScheduleSpec;
  /**
   * Rotate at once when the stack creates or changes the schedule. Off, so that a stack update never
   * rotates by surprise; the service then only runs testSecret to check the configuration.
   * @default false
   */
  readonly rotateImmediatelyOnUpdate?: boolean;
  /** A customer-managed key that encrypts the app secret. @default - the AWS managed key */
  readonly encryptionKey?: IKey;
  /** Where rotation alarms and failure events go. @default - alarms and rules without a target */
  readonly alarmTopic?: ITopic;
  /**
   * Deny writing values and moving labels on the secret to anyone but the rotation role and
   * `adminPrincipalArns`, so that a hand-written value cannot abandon a rotation half-way.
   * Break glass: add a principal to `adminPrincipalArns` and deploy (see docs/deploy.md).
   * @default true
   */
  readonly guardSecret?: boolean;
  /** Principals (role or user ARNs, wildcards allowed) that may still write the secret. @default [] */
  readonly adminPrincipalArns?: readonly string[];
  /** How long after the rotation window the sweep of stragglers runs. @default Duration.hours(6) */
  readonly sweepDelay?: Duration;
  /** How long the rotation function's logs are kept. @default RetentionDays.ONE_YEAR */
  readonly logRetention?: RetentionDays;
}

/** The rotation function's timeout: Lambda's maximum, for large tables (CDK's default is 3 s). */
const TIMEOUT = Duration.minutes(15);
const SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
];
const PLACEHOLDER_CLUSTER = 'arn:aws:rds:us-east-1:000000000000:cluster:placeholder';
const PLACEHOLDER_SECRET = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:placeholder';

/**
 * A Secrets Manager rotation of an application secret by rekey: the rotation Lambda, its schedule,
 * least-privilege IAM, a guard on the secret, an alarm, a rule for failed rotations and a sweep.
 *
 * @example
 * new AppSecretRotation(this, 'Rotation', {
 *   settings: {
 *     secretTemplate: { encryptionKey: { kind: 'aes-256' } },
 *     dataKeyField: 'encryptionKey',
 *     storedFields: [{ table: 'data_sources', id: 'id', columns: ['options'] }],
 *   },
 *   cluster,
 *   credentialsSecret: cluster.secret!,
 *   databaseName: 'app',
 *   engine: 'postgres',
 *   schedule: { expression: 'cron(0 3 ? * SUN *)', window: Duration.hours(4) },
 * });
 */
export class AppSecretRotation extends Construct {
  /** The rotated secret. */
  readonly secret: ISecret;
  /** The rotation function. */
  readonly rotationFunction: NodejsFunction;
  /** The function's role: the only principal, with the admins, that may write the secret. */
  readonly role: Role;
  /** Alarm on the rotation function's errors. */
  readonly errorAlarm: Alarm;

  constructor(scope: Construct, id: string, props: AppSecretRotationProps) {
    super(scope, id);
    const clusterArn = props.cluster?.clusterArn ?? props.clusterArn;
    if (!clusterArn) throw new Error('AppSecretRotation: give cluster or clusterArn');
    if (props.cluster && props.clusterArn)
      throw new Error('AppSecretRotation: give cluster or clusterArn, not both');
    // Validated with placeholders where the ARNs are tokens; the real ARNs go into REKEY_CONFIG.
    const config = parseConfig(
      {
        ...props.settings,
        dataApi: {
          resourceArn: Token.isUnresolved(clusterArn) ? PLACEHOLDER_CLUSTER : clusterArn,
          secretArn: Token.isUnresolved(props.credentialsSecret.secretArn)
            ? PLACEHOLDER_SECRET
            : props.credentialsSecret.secretArn,
          database: props.databaseName,
          engine: props.engine,
        },
      },
      'AppSecretRotation settings',
    );
    const schedule = props.schedule ?? { automaticallyAfter: Duration.days(30) };
    const rules = rotationRules(schedule);

    this.secret =
      props.secret ??
      new Secret(this, 'Secret', {
        description: 'Application secret rotated by rekey; write its first value with `rekey init`.',
        encryptionKey: props.encryptionKey,
      });

    const logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention ?? RetentionDays.ONE_YEAR });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'rekey rotation function',
    });
    this.rotationFunction = new NodejsFunction(this, 'Function', {
      entry: fileURLToPath(new URL('../lambda/handler.ts', import.meta.url)),
      handler: 'handler',
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 1024,
      timeout: TIMEOUT,
      role: this.role,
      logGroup,
      description: 'rekey: rotates the app secret and re-encrypts stored fields',
      environment: {
        REKEY_CONFIG: Stack.of(this).toJsonString({
          ...config,
          secretId: this.secret.secretArn,
          dataApi: {
            ...config.dataApi,
            resourceArn: clusterArn,
            secretArn: props.credentialsSecret.secretArn,
          },
        }),
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        sourceMap: true,
        minify: true,
        // ESM output still meets CommonJS dependencies that call require().
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
        // The SDK clients are bundled, not taken from the runtime: rekey is tested against the pinned
        // versions, and the runtime's copy changes under a deployed function without notice.
        externalModules: [],
      },
    });

    this.grantRotation(clusterArn, props);
    this.rotationFunction.addPermission('InvokeBySecretsManager', {
      principal: new ServicePrincipal('secretsmanager.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      sourceAccount: Stack.of(this).account,
      sourceArn: this.secret.secretArn,
    });
    const rotation = new CfnRotationSchedule(this, 'Schedule', {
      secretId: this.secret.secretArn,
      rotationLambdaArn: this.rotationFunction.functionArn,
      rotationRules: rules,
      rotateImmediatelyOnUpdate: props.rotateImmediatelyOnUpdate ?? false,
    });
    rotation.node.addDependency(this.rotationFunction.permissionsNode.findChild('InvokeBySecretsManager'));

    if (props.guardSecret ?? true) this.guard(props.adminPrincipalArns ?? []);
    this.errorAlarm = this.operations(schedule, props);
  }

  private grantRotation(clusterArn: string, props: AppSecretRotationProps): void {
    this.role.addToPolicy(
      new PolicyStatement({ actions: SECRET_ACTIONS, resources: [this.secret.secretArn] }),
    );
    // rekey sends every statement on its own (each page is one compare-and-swap UPDATE).
    this.role.addToPolicy(
      new PolicyStatement({ actions: ['rds-data:ExecuteStatement'], resources: [clusterArn] }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [props.credentialsSecret.secretArn],
      }),
    );
    if (props.encryptionKey) {
      this.role.addToPolicy(
        new PolicyStatement({
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [props.encryptionKey.keyArn],
        }),
      );
    }
    const logs = new PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [`${(this.rotationFunction.logGroup as LogGroup).logGroupArn}`],
    });
    this.role.addToPolicy(logs);
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5',
      reason:
        "Log streams of the function's own log group are named by Lambda at run time (log-group:<name>:*).",
    });
  }

  /** Denies PutSecretValue and UpdateSecretVersionStage to anyone but the rotation role and the admins. */
  private guard(admins: readonly string[]): void {
    this.secret.addToResourcePolicy(
      new PolicyStatement({
        sid: 'OnlyRekeyWritesWhileItOwnsTheSecret',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
        resources: ['*'],
        conditions: { ArnNotLike: { 'aws:PrincipalArn': [this.role.roleArn, ...admins] } },
      }),
    );
  }

  private operations(schedule: RotationScheduleSpec, props: AppSecretRotationProps): Alarm {
    const alarm = new Alarm(this, 'ErrorsAlarm', {
      alarmDescription: 'The rekey rotation function failed; see docs/operations.md',
      metric: this.rotationFunction.metricErrors({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const failures = new Rule(this, 'RotationFailures', {
      description: 'Secrets Manager reports a failed or abandoned rotation of the app secret',
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['AWS Service Event via CloudTrail'],
        detail: {
          eventSource: ['secretsmanager.amazonaws.com'],
          eventName: ['RotationFailed', 'RotationAbandoned'],
          additionalEventData: { SecretId: [this.secret.secretArn] },
        },
      },
    });
    if (props.alarmTopic) {
      alarm.addAlarmAction(new SnsAction(props.alarmTopic));
      failures.addTarget(new SnsTopic(props.alarmTopic));
    }
    new Rule(this, 'Sweep', {
      description: 'Moves rows written under AWSPREVIOUS by stale app instances to AWSCURRENT',
      schedule: Schedule.expression(sweepExpression(schedule, props.sweepDelay ?? Duration.hours(6))),
      targets: [
        new LambdaFunction(this.rotationFunction, {
          event: RuleTargetInput.fromObject({ action: 'sweep', SecretId: this.secret.secretArn }),
          retryAttempts: 2,
        }),
      ],
    });
    return alarm;
  }
}
