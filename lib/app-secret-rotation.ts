import { Duration, Lazy, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type { Alarm, Metric, MetricOptions } from 'aws-cdk-lib/aws-cloudwatch';
import type { Rule } from 'aws-cdk-lib/aws-events';
import { type Grant, type IGrantable, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnDBCluster, type IDatabaseCluster } from 'aws-cdk-lib/aws-rds';
import {
  CfnRotationSchedule,
  type CfnSecret,
  type ISecret,
  ResourcePolicy,
  Secret,
} from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { Engine } from '../lambda/index.js';
import { AppRestarts, type RestartAfterPromotion } from './app-restarts.js';
import { addRotationOperations, rotationFailuresMetric } from './operations.js';
import { PropsError, withConstructPath } from './props-error.js';
import { type RekeySettings, renderRekeyConfig } from './rekey-config.js';
import { createRotationFunction } from './rotation-function.js';
import { grantKeyRingRead, grantRotation, secretPolicyArn } from './rotation-grants.js';
import { type RotationScheduleSpec, rotationRules, sweepExpression } from './rotation-schedule.js';
import { applySecretGuard, secretGuardStatements } from './secret-guard-policy.js';

/**
 * The rotation function's default memory, from the cost per million rows that `npm run bench` measured
 * (bench/results/latest.md, "Lambda memory"; 10M rows at 100 ms per call, 2026-12-02): setSecret and
 * testSecret together cost 97 GB-s per million rows at 1,024 MB and at 512 MB, 102 at 1,769 MB and 174
 * at 3,008 MB. The CPU bounds setSecret at every memory up to one vCPU, so the benchmark's chooser picks
 * the fastest, 1,769 MB; the default is 1,024 MB, the cheapest at which ten million rows still fit one
 * setSecret invocation (68 s per million rows at its 0.58 vCPU, ~680 s of the 870), since 512 MB costs
 * the same but needs ~1,350 s for them and 1,769 MB takes 40% less time for 5% more. On a slower CPU
 * (the AMD VM of bench/results/2026-12-01-vm.json, ~900 s for 10M rows at 1,024 MB) a table that large
 * takes a second attempt, which resumes.
 */
const DEFAULT_MEMORY_MB = 1024;

/** Props of {@link AppSecretRotation}. */
export interface AppSecretRotationProps {
  /**
   * What to rotate and re-encrypt: secret template, data key field, codec, stored fields, paging, row
   * policies and safety margin, as in the rekey config file (README, "Configuration"); validated at
   * synth time by the Lambda's own parser.
   */
  readonly settings: RekeySettings;
  /**
   * The app secret to rotate.
   * @default - a new, empty secret (no value in the template); `rekey init` writes its first value
   */
  readonly secret?: ISecret;
  /**
   * Name of the new secret (with `secret` unset).
   * @default - a name CloudFormation generates
   */
  readonly secretName?: string;
  /**
   * What happens to the new secret when it leaves the stack. Deleting it loses every key stored rows
   * need, so it is kept.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * The Aurora cluster, with the Data API enabled. Give this or `clusterArn`.
   * @default - `clusterArn`
   */
  readonly cluster?: IDatabaseCluster;
  /**
   * The cluster's ARN, for a cluster defined elsewhere (its Data API must be enabled). Give this or `cluster`.
   * @default - `cluster.clusterArn`
   */
  readonly clusterArn?: string;
  /** The secret the Data API signs in to the database with. */
  readonly credentialsSecret: ISecret;
  /**
   * The customer-managed key that encrypts `credentialsSecret`.
   * @default - `credentialsSecret.encryptionKey`; none when it is encrypted with the AWS managed key
   */
  readonly credentialsEncryptionKey?: IKey;
  /** The database holding the stored fields (a plain SQL identifier). */
  readonly databaseName: string;
  /** The cluster's engine. */
  readonly engine: Engine;
  /**
   * When rotations run.
   * @default { automaticallyAfter: Duration.days(30) }, window until the end of the UTC day
   */
  readonly schedule?: RotationScheduleSpec;
  /**
   * Turn rotation on: the rotation schedule and the scheduled sweep. Leave it off for the first deploy
   * of a new secret, which has no value yet (the service would test or start a rotation on an empty
   * secret): deploy, run `rekey init`, then deploy again with rotation on (docs/deploy.md).
   * @default true
   */
  readonly enableRotation?: boolean;
  /**
   * Rotate at once when a deploy creates or changes the schedule. Off, so that a stack update never
   * rotates by surprise; the service then only runs testSecret to check the configuration.
   * @default false
   */
  readonly rotateImmediatelyOnUpdate?: boolean;
  /**
   * The customer-managed key that encrypts the app secret: a new secret is created with it; for an
   * existing secret, name the key it is encrypted with. The role gets Decrypt and GenerateDataKey on it
   * through Secrets Manager only.
   * @default - `secret.encryptionKey` for an existing secret; the AWS managed key for a new one
   */
  readonly encryptionKey?: IKey;
  /**
   * Where the errors alarm and the rotation failure events go.
   * @default - none: the alarm and the rule exist without a target
   */
  readonly alarmTopic?: ITopic;
  /**
   * Deny writing values (PutSecretValue, UpdateSecret), moving labels (UpdateSecretVersionStage),
   * deleting the secret, and pointing rotation at another function, to everyone but the rotation role
   * and `adminPrincipalArns`, so that a value written by hand cannot abandon a rotation half-way and
   * strand rows. Break glass: docs/deploy.md.
   * @default true
   */
  readonly guardSecret?: boolean;
  /**
   * Principals (role or user ARNs, `*` and `?` allowed) that keep the guarded actions: whoever runs
   * `rekey init`, `resume` and `abort`. At least one while `guardSecret` is on.
   * @default - none, which the guard refuses
   */
  readonly adminPrincipalArns?: readonly string[];
  /**
   * Run the sweep of stragglers (rows written under AWSPREVIOUS by stale app instances) on a schedule.
   * @default true
   */
  readonly sweep?: boolean;
  /**
   * How long after a rotation window closes the sweep runs (whole hours, 1 to 23).
   * @default Duration.hours(6)
   */
  readonly sweepDelay?: Duration;
  /**
   * How long the rotation function's logs are kept.
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: RetentionDays;
  /**
   * The rotation function's memory in MB (CPU grows with it).
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * Reserved concurrency of the rotation function; at least 10, because the service warns that less
   * throttles rotation.
   * @default - none (the account's unreserved pool)
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Roll the apps that read one key from their environment at start (Redash's `REDASH_SECRET_KEY`)
   * after every promotion, outside the rotation steps: the ECS services to redeploy, and rekey's
   * `Secret version promoted` event on the default bus for anything else (docs/apps.md). The alarm goes
   * to `alarmTopic`. For services whose task definitions read `secret` (created by this construct), call
   * {@link AppSecretRotation.addRestarts} after the services instead.
   * @default - no restarts: such apps fail on moved rows until someone restarts them
   */
  readonly restartAfterPromotion?: RestartAfterPromotion;
}

const CLUSTER_ARN_PATTERN = /^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z][A-Za-z0-9-]{0,62}$/;
const PRINCIPAL_ARN_PATTERN = /^arn:aws[a-z-]*:(iam|sts)::(\d{12}|[*?]+):\S+$/;
const SECRET_NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const MIN_RESERVED_CONCURRENCY = 10;

/**
 * Rotation of an application secret by rekey: the rotation Lambda with least-privilege IAM, the
 * rotation schedule (cron or rate, with a window), a guard on the secret, an alarm on errors, a rule
 * for the service's rotation failure events, and a scheduled sweep of stragglers. Apps that load the
 * key ring get their access with {@link AppSecretRotation.grantRead}; apps that hold one key are rolled
 * after each promotion with `restartAfterPromotion` or {@link AppSecretRotation.addRestarts}; alarms of
 * one's own start from the `metricXxx` methods.
 *
 * @example
 * const rotation = new AppSecretRotation(this, 'Rotation', {
 *   settings: {
 *     secretTemplate: { encryptionKey: { kind: 'aes-256' } },
 *     dataKeyField: 'encryptionKey',
 *     storedFields: [{ table: 'data_sources', id: 'id', columns: ['options'] }],
 *   },
 *   cluster,
 *   credentialsSecret,
 *   databaseName: 'app',
 *   engine: 'postgres',
 *   schedule: { expression: 'cron(0 3 ? * SUN *)', window: Duration.hours(4) },
 *   adminPrincipalArns: ['arn:aws:iam::123456789012:role/rekey-admin'],
 *   alarmTopic,
 * });
 * rotation.grantRead(appService.taskDefinition.taskRole);
 */
export class AppSecretRotation extends Construct {
  /** The rotated secret. */
  readonly secret: ISecret;
  /** How the function names the secret in API calls (full ARN, or the name of an imported secret). */
  readonly secretId: string;
  /** The rotation function. */
  readonly rotationFunction: LambdaFunction;
  /** The function's role: with the admins, the only principal that may write the guarded secret. */
  readonly role: Role;
  /** The function's log group. */
  readonly logGroup: LogGroup;
  /** The rotation schedule resource, unless `enableRotation` is false. */
  readonly rotationSchedule?: CfnRotationSchedule;
  /** Alarm on the rotation function's errors. */
  readonly errorsAlarm: Alarm;
  /** Rule for the service's rotation failure events on this secret. */
  readonly failureRule: Rule;
  /** Rule that invokes the sweep, unless `sweep` or `enableRotation` is false. */
  readonly sweepRule?: Rule;
  /** What rolls the single-key apps after a promotion (`restartAfterPromotion` or `addRestarts`). */
  get restarts(): AppRestarts | undefined {
    return this.appRestarts;
  }
  /** The customer-managed key that encrypts the secret, if one is known. */
  private readonly secretKey?: IKey;
  private appRestarts?: AppRestarts;
  private readonly restartDefaults: { alarmTopic?: ITopic; logRetention?: RetentionDays };

  /**
   * @throws PropsError naming this construct's path, the prop, the value and what is allowed.
   */
  constructor(scope: Construct, id: string, props: AppSecretRotationProps) {
    super(scope, id);
    const clusterArn = checkCluster(this, props);
    const admins = checkAdmins(this, props);
    checkNumbers(this, props);
    if (props.secret && (props.secretName !== undefined || props.removalPolicy !== undefined)) {
      throw new PropsError(
        'secretName and removalPolicy apply to a new secret; give them or secret, not both',
        { scope: this },
      );
    }
    if (props.secretName !== undefined && !Token.isUnresolved(props.secretName)) {
      if (!SECRET_NAME_PATTERN.test(props.secretName)) {
        throw new PropsError(
          `secretName must be 1 to 512 of letters, digits and /_+=.@-, got '${props.secretName}'`,
          { scope: this },
        );
      }
    }
    const schedule = props.schedule ?? { automaticallyAfter: Duration.days(30) };
    const rules = withConstructPath(this, () => rotationRules(schedule));
    const rotating = props.enableRotation ?? true;
    const sweepSchedule =
      rotating && (props.sweep ?? true)
        ? withConstructPath(this, () => sweepExpression(schedule, props.sweepDelay ?? Duration.hours(6)))
        : undefined;
    const rekeyConfig = renderRekeyConfig(this, props.settings, {
      secretId: Lazy.string({ produce: () => this.secretId }),
      clusterArn,
      credentialsSecretArn: props.credentialsSecret.secretArn,
      databaseName: props.databaseName,
      engine: props.engine,
    });

    this.secret = props.secret ?? this.newSecret(props);
    if (!props.secret && !rotating) {
      Validations.of(this.secret).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SMG4',
        reason:
          'Rotation is off only until `rekey init` writes the first value of this new, empty secret; ' +
          'the next deploy turns it on (enableRotation defaults to true).',
      });
    }
    this.secretId = this.secret.secretFullArn ?? this.secret.secretName;
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention ?? RetentionDays.ONE_YEAR });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'rekey rotation function',
    });
    this.secretKey = props.encryptionKey ?? props.secret?.encryptionKey;
    grantRotation(this.role, {
      secret: this.secret,
      secretKey: this.secretKey,
      clusterArn,
      credentialsSecret: props.credentialsSecret,
      credentialsKey: props.credentialsEncryptionKey ?? props.credentialsSecret.encryptionKey,
      logGroup: this.logGroup,
    });
    this.rotationFunction = createRotationFunction(this, {
      role: this.role,
      logGroup: this.logGroup,
      rekeyConfig,
      memorySize: props.memorySize ?? DEFAULT_MEMORY_MB,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    });
    // CDK's own permission for the service lacks SourceAccount, which common guardrails require.
    this.rotationFunction.addPermission('InvokeBySecretsManager', {
      principal: new ServicePrincipal('secretsmanager.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      sourceAccount: Stack.of(this).account,
      sourceArn: secretPolicyArn(this.secret),
    });

    if (rotating) {
      this.rotationSchedule = new CfnRotationSchedule(this, 'Schedule', {
        secretId: this.secretId,
        rotationLambdaArn: this.rotationFunction.functionArn,
        rotationRules: rules,
        rotateImmediatelyOnUpdate: props.rotateImmediatelyOnUpdate ?? false,
      });
      // The service invokes the function as soon as the schedule exists (testSecret at least).
      this.rotationSchedule.node.addDependency(
        this.rotationFunction.permissionsNode.findChild('InvokeBySecretsManager'),
      );
    }

    if (props.guardSecret ?? true) {
      applySecretGuard(
        this,
        this.secret,
        secretGuardStatements({
          rotationRoleArn: this.role.roleArn,
          rotationFunctionArn: this.rotationFunction.functionArn,
          adminPrincipalArns: admins,
        }),
      );
    }

    const operations = addRotationOperations(this, {
      rotationFunction: this.rotationFunction,
      secret: this.secret,
      secretId: this.secretId,
      alarmTopic: props.alarmTopic,
      sweepSchedule,
    });
    this.errorsAlarm = operations.errorsAlarm;
    this.failureRule = operations.failureRule;
    this.sweepRule = operations.sweepRule;

    this.restartDefaults = { alarmTopic: props.alarmTopic, logRetention: props.logRetention };
    if (props.restartAfterPromotion) this.addRestarts(props.restartAfterPromotion);
  }

  /**
   * Rolls the apps that read one key from their environment at start after every promotion (see
   * `restartAfterPromotion`, which calls this): for ECS services whose task definitions read this
   * construct's own `secret`, and so exist only after it. Once per construct.
   *
   * @example
   * const rotation = new AppSecretRotation(this, 'Rotation', props);
   * taskDefinition.addContainer('server', {
   *   image: ContainerImage.fromRegistry('redash/redash'),
   *   secrets: { REDASH_SECRET_KEY: EcsSecret.fromSecretsManager(rotation.secret, 'encryptionKey') },
   * });
   * rotation.addRestarts({ ecsServices: [server, worker] });
   * @throws PropsError when restarts were already added, or naming the prop that is wrong.
   */
  addRestarts(options: RestartAfterPromotion): AppRestarts {
    if (this.appRestarts) {
      throw new PropsError(
        'restarts were already added (restartAfterPromotion or addRestarts); add them once',
        {
          scope: this,
        },
      );
    }
    this.appRestarts = new AppRestarts(this, 'Restarts', {
      ...options,
      secret: this.secret,
      sweep: { rotationFunction: this.rotationFunction, secretId: this.secretId },
      ...this.restartDefaults,
    });
    return this.appRestarts;
  }

  /**
   * Lets `grantee` (an app's role) load the key ring (`KeyRing.load`): GetSecretValue on this secret
   * only, for the versions staged AWSCURRENT, AWSPENDING and AWSPREVIOUS; with a customer-managed key,
   * `kms:Decrypt` on that key only, through Secrets Manager and for this secret. No DescribeSecret, no
   * write: the guard keeps writes to rekey and the admins anyway. A grantee of another account also
   * gets an allow in the secret's resource policy (and in the key's, for a key defined in this stack).
   *
   * @example
   * const rotation = new AppSecretRotation(this, 'Rotation', props);
   * rotation.grantRead(appService.taskDefinition.taskRole); // or a function, an instance role
   * @throws PropsError when the grantee is in another account and no customer-managed key is known for
   * the secret (`encryptionKey`): the AWS managed key cannot be used from another account.
   */
  grantRead(grantee: IGrantable): Grant {
    const guard = this.node.tryFindChild('SecretGuard');
    return grantKeyRingRead(grantee, {
      secret: this.secret,
      secretKey: this.secretKey,
      importedSecretPolicy: guard instanceof ResourcePolicy ? guard.document : undefined,
      scope: this,
    });
  }

  /**
   * Errors of the rotation function: failed rotation steps (each retried by the service), a setSecret
   * that ran out of time, failed sweeps. What `errorsAlarm` alarms on.
   * @default - sum over 5 minutes
   */
  metricErrors(props?: MetricOptions): Metric {
    return this.rotationFunction.metricErrors(props);
  }

  /**
   * How long the rotation function runs, in milliseconds; its maximum near 900000 (the 15-minute
   * timeout) means setSecret is stopping early and leaving the rest to the service's retry.
   * @default - average over 5 minutes
   */
  metricDuration(props?: MetricOptions): Metric {
    return this.rotationFunction.metricDuration(props);
  }

  /**
   * Invocations of the rotation function: four steps per rotation, a testSecret after a deploy that
   * changes the schedule, each sweep, and the service's retries.
   * @default - sum over 5 minutes
   */
  metricInvocations(props?: MetricOptions): Metric {
    return this.rotationFunction.metricInvocations(props);
  }

  /**
   * Throttled invocations of the rotation function (reserved concurrency, or the account's limit).
   * @default - sum over 5 minutes
   */
  metricThrottles(props?: MetricOptions): Metric {
    return this.rotationFunction.metricThrottles(props);
  }

  /**
   * Rotations the service reports as failed, abandoned or failed in the configuration test: the times
   * `failureRule` matched (AWS/Events `TriggeredRules`, which EventBridge sends only when non-zero, so
   * treat missing data as not breaching).
   * @default - sum over 5 minutes
   */
  metricRotationFailures(props?: MetricOptions): Metric {
    return rotationFailuresMetric(this.failureRule, props);
  }

  /**
   * A secret without a value: CDK's `Secret` would generate a password, which is not the template's
   * JSON, and a value written in the template would be readable there. `rekey init` writes the first
   * value (generated from the template, or adopting the app's existing key).
   */
  private newSecret(props: AppSecretRotationProps): Secret {
    const secret = new Secret(this, 'Secret', {
      secretName: props.secretName,
      description: 'Application secret rotated by rekey; write its first value with `rekey init`.',
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    (secret.node.defaultChild as CfnSecret).addPropertyDeletionOverride('GenerateSecretString');
    return secret;
  }
}

function checkCluster(scope: Construct, props: AppSecretRotationProps): string {
  if ((props.cluster === undefined) === (props.clusterArn === undefined)) {
    throw new PropsError(
      `give exactly one of cluster and clusterArn, got ${props.cluster ? 'both' : 'neither'}`,
      { scope },
    );
  }
  if (props.cluster) {
    const cluster = props.cluster;
    const cfn = cluster.node.defaultChild;
    // Checked when the app is synthesized, after every mutation (grantDataApiAccess also enables it).
    if (cfn instanceof CfnDBCluster) {
      cluster.node.addValidation({
        validate: () =>
          Stack.of(cluster).resolve(cfn.enableHttpEndpoint) === true
            ? []
            : [`cluster ${cluster.node.path} must have the Data API enabled (enableDataApi: true) for rekey`],
      });
    }
    return cluster.clusterArn;
  }
  const arn = props.clusterArn ?? '';
  if (!Token.isUnresolved(arn) && !CLUSTER_ARN_PATTERN.test(arn)) {
    throw new PropsError(
      `clusterArn must be an Aurora cluster ARN (arn:aws:rds:REGION:ACCOUNT:cluster:NAME), got '${arn}'`,
      { scope },
    );
  }
  return arn;
}

function checkAdmins(scope: Construct, props: AppSecretRotationProps): readonly string[] {
  const admins = props.adminPrincipalArns ?? [];
  for (const arn of admins) {
    if (!Token.isUnresolved(arn) && !PRINCIPAL_ARN_PATTERN.test(arn)) {
      throw new PropsError(
        `adminPrincipalArns must hold IAM role or user ARNs (arn:aws:iam::ACCOUNT:role/NAME), got '${arn}'`,
        { scope },
      );
    }
  }
  if ((props.guardSecret ?? true) && admins.length === 0) {
    throw new PropsError(
      'adminPrincipalArns is empty while guardSecret is on: no one could run `rekey init`, `resume` or `abort`; ' +
        'name at least one admin role, or set guardSecret: false',
      { scope },
    );
  }
  return admins;
}

function checkNumbers(scope: Construct, props: AppSecretRotationProps): void {
  const memory = props.memorySize;
  if (
    memory !== undefined &&
    !Token.isUnresolved(memory) &&
    !(Number.isInteger(memory) && memory >= 128 && memory <= 10240)
  ) {
    throw new PropsError(`memorySize must be a whole number of MB from 128 to 10240, got ${memory}`, {
      scope,
    });
  }
  const reserved = props.reservedConcurrentExecutions;
  if (
    reserved !== undefined &&
    !Token.isUnresolved(reserved) &&
    !(Number.isInteger(reserved) && reserved >= MIN_RESERVED_CONCURRENCY)
  ) {
    throw new PropsError(
      `reservedConcurrentExecutions must be a whole number of at least ${MIN_RESERVED_CONCURRENCY} (less throttles rotation), got ${reserved}`,
      { scope },
    );
  }
}
