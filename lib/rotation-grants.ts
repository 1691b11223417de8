import { Annotations, Stack, Token, TokenComparison } from 'aws-cdk-lib';
import {
  Grant,
  type IGrantable,
  type IRole,
  type PolicyDocument,
  PolicyStatement,
} from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { PropsError } from './props-error.js';

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

/**
 * The staging labels the reader library (`KeyRing`, lambda/keyring.ts) loads the secret by: the key it
 * encrypts with, the key a rotation under way is moving rows to, and the key rows not yet moved (or
 * written by a stale app instance) are still under.
 */
export const KEY_RING_STAGES = ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS'] as const;

/** What the reader library calls on the secret: GetSecretValue by staging label, nothing else. */
export const KEY_RING_READ_ACTIONS = ['secretsmanager:GetSecretValue'] as const;

/** What {@link grantKeyRingRead} grants on. */
export interface KeyRingReadTargets {
  /** The rotated secret. */
  readonly secret: ISecret;
  /**
   * The customer-managed key that encrypts the secret.
   * @default - none: the AWS managed key, which every principal of the account may use through Secrets Manager
   */
  readonly secretKey?: IKey;
  /**
   * The resource policy rekey's guard put on an imported secret: the only place an allow for a
   * principal of another account can go, since the secret has one resource policy and the guard is it.
   * @default - none
   */
  readonly importedSecretPolicy?: PolicyDocument;
  /** Where warnings and errors are reported. */
  readonly scope: Construct;
}

/**
 * Lets `grantee` load the key ring: GetSecretValue on this secret only, for the three staging labels
 * the ring reads ({@link KEY_RING_STAGES}, by the `secretsmanager:VersionStage` condition key), and
 * with a customer-managed key, `kms:Decrypt` on that key only, through Secrets Manager
 * (`kms:ViaService`) and for this secret (`kms:EncryptionContext:SecretARN`).
 *
 * Not aws-cdk-lib's `Secret.grantRead(grantee, versionStages)`: it also grants DescribeSecret, which the
 * ring does not call, puts the stages under `ForAnyValue:StringEquals` (a set operator, for a key that
 * holds one value), grants Decrypt without the encryption context, and knows only a key given to the
 * imported secret itself. The statements are added the same way (`Grant.addToPrincipalOrResource`): to
 * the grantee's policy, and for a principal of another account also to the secret's and the key's
 * resource policies.
 * @throws PropsError when the grantee is in another account and no customer-managed key is known for
 * the secret: the AWS managed key cannot be used from another account.
 */
export function grantKeyRingRead(grantee: IGrantable, targets: KeyRingReadTargets): Grant {
  const { secret, secretKey, scope } = targets;
  const principalAccount = grantee.grantPrincipal.principalAccount;
  const otherAccount =
    principalAccount !== undefined &&
    Token.compareStrings(secret.env.account, principalAccount) === TokenComparison.DIFFERENT;
  if (otherAccount && !secretKey) {
    throw new PropsError(
      `grantRead to a principal of account ${principalAccount}: no customer-managed key is known for the secret, ` +
        'and the AWS managed key cannot be used from another account; encrypt the secret with a customer-managed key ' +
        'whose policy allows that account, and name it in encryptionKey',
      { scope },
    );
  }
  const secretGrant = Grant.addToPrincipalOrResource({
    grantee,
    actions: [...KEY_RING_READ_ACTIONS],
    resourceArns: [secretPolicyArn(secret)],
    resource: secret,
    conditions: { StringEquals: { 'secretsmanager:VersionStage': [...KEY_RING_STAGES] } },
  });
  // A secret created here takes the resource statement in its own policy; an imported one cannot.
  const foreign = secretGrant.resourceStatement;
  if (foreign && !(secret instanceof Secret)) {
    if (targets.importedSecretPolicy) targets.importedSecretPolicy.addStatements(foreign);
    else {
      Annotations.of(scope).addWarningV2(
        'rekey:grant-read-resource-policy',
        'grantRead: the grantee needs an allow in the resource policy of the imported secret, which this stack ' +
          'does not manage (guardSecret is off); add GetSecretValue for AWSCURRENT, AWSPENDING and AWSPREVIOUS there yourself.',
      );
    }
  }
  if (!secretKey) return secretGrant;
  const viaSecretsManager = { 'kms:ViaService': `secretsmanager.${Stack.of(secret).region}.amazonaws.com` };
  const forThisSecret = { 'kms:EncryptionContext:SecretARN': secretPolicyArn(secret) };
  const keyGrant = Grant.addToPrincipal({
    grantee,
    actions: ['kms:Decrypt'],
    resourceArns: [secretKey.keyArn],
    conditions: { StringEquals: viaSecretsManager, StringLike: forThisSecret },
  });
  if (!foreign) return secretGrant.combine(keyGrant);
  // The key's policy names a new secret by no ARN: the secret is encrypted with the key, so the key
  // naming the secret would make each depend on the other. The grantee still reads only the secrets
  // whose policies allow it, through Secrets Manager only.
  const keyPolicyGrant = Grant.addStatementToResourcePolicy({
    grantee,
    actions: ['kms:Decrypt'],
    resourceArns: ['*'],
    resource: secretKey,
    statement: new PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: ['*'],
      principals: [grantee.grantPrincipal],
      conditions:
        secret instanceof Secret
          ? { StringEquals: viaSecretsManager }
          : { StringEquals: viaSecretsManager, StringLike: forThisSecret },
    }),
  });
  if (!(secretKey instanceof Key)) {
    Annotations.of(scope).addWarningV2(
      'rekey:grant-read-key-policy',
      'grantRead: the grantee needs kms:Decrypt in the policy of the imported key, which this stack does not manage; ' +
        'allow it there, through Secrets Manager (kms:ViaService) and for this secret.',
    );
  }
  return secretGrant.combine(keyGrant).combine(keyPolicyGrant);
}
