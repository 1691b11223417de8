import { CfnOutput, type Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { parseConfig, type RekeyConfigInput } from '../lambda/index.js';
import { AppSecretRotation } from './app-secret-rotation.js';
import { PropsError } from './props-error.js';
import type { RotationScheduleSpec } from './rotation-schedule.js';

/** Props of {@link RekeyStack}: the rekey config file, and how the rotation is deployed. */
export interface RekeyStackProps extends StackProps {
  /**
   * The same configuration the CLI reads (`--config`) and the Lambda gets in `REKEY_CONFIG`. Its
   * `secretId` names the app secret: an ARN is an existing secret; a name is a new secret the stack
   * creates with that name, unless `adoptExistingSecret`; none is a new secret with a generated name.
   */
  readonly config: RekeyConfigInput;
  /**
   * Treat a `secretId` that is a name as an existing secret to import.
   * @default false
   */
  readonly adoptExistingSecret?: boolean;
  /**
   * When rotations run.
   * @default - every 30 days
   */
  readonly schedule?: RotationScheduleSpec;
  /**
   * Turn rotation on; off for the first deploy of a new secret, before `rekey init`.
   * @default true
   */
  readonly enableRotation?: boolean;
  /**
   * Rotate when a deploy creates or changes the schedule.
   * @default false
   */
  readonly rotateImmediatelyOnUpdate?: boolean;
  /**
   * Guard the secret (see `AppSecretRotationProps.guardSecret`).
   * @default true
   */
  readonly guardSecret?: boolean;
  /**
   * Principals that keep the guarded actions (`rekey init`, `resume`, `abort`).
   * @default - none, which the guard refuses
   */
  readonly adminPrincipalArns?: readonly string[];
  /**
   * An existing SNS topic for the errors alarm and failed-rotation events.
   * @default - none
   */
  readonly alarmTopicArn?: string;
  /**
   * The customer-managed KMS key that encrypts the app secret.
   * @default - the AWS managed key (or none known, for an existing secret)
   */
  readonly encryptionKeyArn?: string;
  /**
   * The customer-managed KMS key that encrypts the DB credentials secret.
   * @default - none (the AWS managed key)
   */
  readonly credentialsEncryptionKeyArn?: string;
  /**
   * Run the scheduled sweep.
   * @default true
   */
  readonly sweep?: boolean;
  /**
   * Hours after a rotation window closes that the sweep runs.
   * @default Duration.hours(6)
   */
  readonly sweepDelay?: Duration;
  /**
   * Retention of the rotation function's logs.
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: RetentionDays;
}

const COMPLETE_SECRET_ARN = /:secret:.+-[A-Za-z0-9]{6}$/;

/** The deployable rekey stack: one {@link AppSecretRotation} configured from the rekey config file. */
export class RekeyStack extends Stack {
  /** The rotation it deploys. */
  readonly rotation: AppSecretRotation;

  /**
   * @throws PropsError when the config file or an option is invalid, naming the stack, the field and the value.
   */
  constructor(scope: Construct, id: string, props: RekeyStackProps) {
    super(scope, id, props);
    let config: ReturnType<typeof parseConfig>;
    try {
      config = parseConfig(props.config, 'rekey config');
    } catch (cause) {
      throw new PropsError((cause as Error).message, { scope: this, cause });
    }
    const { dataApi, secretId, ...settings } = config;
    const isArn = secretId?.startsWith('arn:') ?? false;
    if (props.adoptExistingSecret && !secretId) {
      throw new PropsError('adoptExistingSecret needs secretId in the rekey config, got none', {
        scope: this,
      });
    }
    const existing =
      isArn || props.adoptExistingSecret ? this.importSecret('AppSecret', secretId ?? '') : undefined;

    this.rotation = new AppSecretRotation(this, 'Rotation', {
      settings,
      secret: existing,
      secretName: existing ? undefined : secretId,
      clusterArn: dataApi.resourceArn,
      credentialsSecret: this.importSecret('DbCredentials', dataApi.secretArn),
      credentialsEncryptionKey: props.credentialsEncryptionKeyArn
        ? Key.fromKeyArn(this, 'DbCredentialsKey', props.credentialsEncryptionKeyArn)
        : undefined,
      databaseName: dataApi.database,
      engine: dataApi.engine,
      schedule: props.schedule,
      enableRotation: props.enableRotation,
      rotateImmediatelyOnUpdate: props.rotateImmediatelyOnUpdate,
      encryptionKey: props.encryptionKeyArn ? Key.fromKeyArn(this, 'Key', props.encryptionKeyArn) : undefined,
      alarmTopic: props.alarmTopicArn
        ? Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn)
        : undefined,
      guardSecret: props.guardSecret,
      adminPrincipalArns: props.adminPrincipalArns,
      sweep: props.sweep,
      sweepDelay: props.sweepDelay,
      logRetention: props.logRetention,
    });

    new CfnOutput(this, 'SecretId', {
      description: 'The app secret: pass it to `rekey init`, `status` and `rotate-now` as --secret-id',
      value: this.rotation.secretId,
    });
    new CfnOutput(this, 'RotationFunctionName', { value: this.rotation.rotationFunction.functionName });
    new CfnOutput(this, 'LogGroupName', { value: this.rotation.logGroup.logGroupName });
  }

  private importSecret(id: string, ref: string): ISecret {
    if (!ref.startsWith('arn:')) return Secret.fromSecretNameV2(this, id, ref);
    return COMPLETE_SECRET_ARN.test(ref)
      ? Secret.fromSecretCompleteArn(this, id, ref)
      : Secret.fromSecretPartialArn(this, id, ref);
  }
}
