import { Stack } from 'aws-cdk-lib';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';

/**
 * What the rotation function calls on the rotated secret, and nothing more (no GetRandomPassword). Tags
 * carry rekey's rotation marks (when a version was promoted, that testSecret passed, that an abort is
 * under way: lambda/rotation-marks.ts), which the steps need as positive proof before they act; a
 * version's CreatedDate (ListSecretVersionIds) says when a value written straight to AWSCURRENT became so.
 */
export const SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:ListSecretVersionIds',
  'secretsmanager:TagResource',
  'secretsmanager:UntagResource',
] as const;

/**
 * The RDS Data API calls rekey makes: single statements only. Each page is one compare-and-swap
 * UPDATE, atomic on its own, so the function needs no BeginTransaction/Commit/BatchExecuteStatement.
 */
export const DATA_API_ACTIONS = ['rds-data:ExecuteStatement'] as const;

/**
 * The ARN to name a secret by in a policy: its full ARN, or for a secret imported by name or partial
 * ARN, the partial ARN followed by `-??????` (the six characters Secrets Manager appends), so the policy
 * matches that secret and not another whose name starts the same.
 */
export function secretPolicyArn(secret: ISecret): string {
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}

/** What the rotation role is granted on. */
export interface RotationGrantTargets {
  /** The rotated secret. */
  readonly secret: ISecret;
  /** The customer-managed key that encrypts the rotated secret, if any. */
  readonly secretKey?: IKey;
  /** The Aurora cluster the Data API runs statements on. */
  readonly clusterArn: string;
  /** The secret the Data API signs in with (read with the caller's credentials). */
  readonly credentialsSecret: ISecret;
  /** The customer-managed key that encrypts the credentials secret, if any. */
  readonly credentialsKey?: IKey;
  /** The function's log group. */
  readonly logGroup: ILogGroup;
}

/**
 * Adds the rotation role's statements, each scoped to an exact ARN. Hand-written rather than through
 * `secret.addRotationSchedule` or `cluster.grantDataApiAccess`: the first grants GetRandomPassword on
 * `*` (rekey draws keys from `crypto.randomBytes`) and its Lambda permission lacks SourceAccount; the
 * second also grants read on the cluster's own master secret, which need not be the one rekey signs in
 * with.
 */
export function grantRotation(role: IRole, targets: RotationGrantTargets): void {
  const viaSecretsManager = `secretsmanager.${Stack.of(role).region}.amazonaws.com`;
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'RotateThisSecret',
      actions: [...SECRET_ACTIONS],
      resources: [secretPolicyArn(targets.secret)],
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'DataApiOnThisCluster',
      actions: [...DATA_API_ACTIONS],
      resources: [targets.clusterArn],
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'DataApiSignsInWithThisSecret',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [secretPolicyArn(targets.credentialsSecret)],
    }),
  );
  if (targets.secretKey) {
    // GetSecretValue decrypts and PutSecretValue generates a data key, through Secrets Manager only,
    // and only in this secret's encryption context.
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'SecretKeyThroughSecretsManager',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [targets.secretKey.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': viaSecretsManager },
          StringLike: { 'kms:EncryptionContext:SecretARN': secretPolicyArn(targets.secret) },
        },
      }),
    );
  }
  if (targets.credentialsKey) {
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'CredentialsKeyThroughSecretsManager',
        actions: ['kms:Decrypt'],
        resources: [targets.credentialsKey.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': viaSecretsManager },
          StringLike: { 'kms:EncryptionContext:SecretARN': secretPolicyArn(targets.credentialsSecret) },
        },
      }),
    );
  }
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'WriteOwnLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [targets.logGroup.logGroupArn],
    }),
  );
}
