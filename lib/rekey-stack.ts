import { Stack, type StackProps } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { parseConfig, type RekeyConfigInput } from '../lambda/config.js';
import { AppSecretRotation } from './app-secret-rotation.js';
import type { RotationScheduleSpec } from './rotation-schedule.js';

/** Props of {@link RekeyStack}: the rekey config file, and how the rotation is deployed. */
export interface RekeyStackProps extends StackProps {
  /** The same configuration the CLI reads (`--config`); `secretId`, if set, names an existing secret. */
  readonly config: RekeyConfigInput;
  /** When rotations run. @default - every 30 days */
  readonly schedule?: RotationScheduleSpec;
  /** Rotate when the stack creates or changes the schedule. @default false */
  readonly rotateImmediatelyOnUpdate?: boolean;
  /** Principals that may still write the secret. @default [] */
  readonly adminPrincipalArns?: readonly string[];
  /** An existing SNS topic for alarms and failed-rotation events. @default - none */
  readonly alarmTopicArn?: string;
  /** An existing customer-managed KMS key that encrypts the secret. @default - the AWS managed key */
  readonly encryptionKeyArn?: string;
}

/** The deployable rekey stack: one {@link AppSecretRotation} configured from the rekey config file. */
export class RekeyStack extends Stack {
  /** The rotation it deploys. */
  readonly rotation: AppSecretRotation;

  constructor(scope: Construct, id: string, props: RekeyStackProps) {
    super(scope, id, props);
    const config = parseConfig(props.config, 'rekey config');
    const { dataApi, secretId, ...settings } = config;
    const encryptionKey = props.encryptionKeyArn
      ? Key.fromKeyArn(this, 'Key', props.encryptionKeyArn)
      : undefined;
    this.rotation = new AppSecretRotation(this, 'Rotation', {
      settings,
      secret: secretId?.startsWith('arn:')
        ? Secret.fromSecretCompleteArn(this, 'AppSecret', secretId)
        : secretId
          ? Secret.fromSecretNameV2(this, 'AppSecret', secretId)
          : undefined,
      clusterArn: dataApi.resourceArn,
      credentialsSecret: Secret.fromSecretCompleteArn(this, 'DbCredentials', dataApi.secretArn),
      databaseName: dataApi.database,
      engine: dataApi.engine,
      schedule: props.schedule,
      rotateImmediatelyOnUpdate: props.rotateImmediatelyOnUpdate,
      adminPrincipalArns: props.adminPrincipalArns,
      alarmTopic: props.alarmTopicArn
        ? Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn)
        : undefined,
      encryptionKey,
    });
  }
}
