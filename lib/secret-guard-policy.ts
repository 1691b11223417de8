import { Annotations } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type ISecret, ResourcePolicy } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';

/**
 * Actions that write a value, move a staging label, change rekey's rotation marks (tags) or delete the
 * secret. A value written by hand mid-rotation makes the service abandon the rotation and strands the
 * rows already moved to the pending key; a label moved by hand can drop a key that stored rows still
 * need; a rotation mark set by hand could let a promotion unstage a key that readers still use.
 */
export const GUARDED_ACTIONS = [
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecret',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:TagResource',
  'secretsmanager:UntagResource',
  'secretsmanager:DeleteSecret',
] as const;

/** Who keeps the guarded actions. */
export interface SecretGuardProps {
  /** The rotation function's role. */
  readonly rotationRoleArn: string;
  /** The rotation function: the only one RotateSecret may point the secret at. */
  readonly rotationFunctionArn: string;
  /** Admin principals (role or user ARNs, wildcards allowed) that keep the guarded actions. */
  readonly adminPrincipalArns: readonly string[];
}

/**
 * The statements of the guard: deny the guarded actions to every principal but the rotation role and
 * the admins, and deny pointing rotation at another function. RotateSecret without a function (what
 * `rekey rotate-now` and the schedule do) stays open. Resource-policy actions stay open on purpose:
 * that is the break-glass path (see docs/deploy.md); the guard stops mistakes, not an administrator.
 */
export function secretGuardStatements(props: SecretGuardProps): PolicyStatement[] {
  const keepers = [props.rotationRoleArn, ...props.adminPrincipalArns];
  return [
    new PolicyStatement({
      sid: 'OnlyRekeyWritesWhileItOwnsTheSecret',
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: [...GUARDED_ACTIONS],
      resources: ['*'],
      conditions: { ArnNotLike: { 'aws:PrincipalArn': keepers } },
    }),
    new PolicyStatement({
      sid: 'OnlyRekeyRotatesTheSecret',
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: ['secretsmanager:RotateSecret'],
      resources: ['*'],
      conditions: {
        Null: { 'secretsmanager:RotationLambdaARN': 'false' },
        ArnNotEquals: { 'secretsmanager:RotationLambdaARN': props.rotationFunctionArn },
        ArnNotLike: { 'aws:PrincipalArn': keepers },
      },
    }),
  ];
}

/**
 * Puts the guard on the secret. A secret created in the stack gets it in its own resource policy; an
 * imported secret gets an `AWS::SecretsManager::ResourcePolicy`, which replaces any resource policy it
 * already has (a warning says so at synth).
 */
export function applySecretGuard(scope: Construct, secret: ISecret, statements: PolicyStatement[]): void {
  const added = statements.map((s) => secret.addToResourcePolicy(s).statementAdded);
  if (added.every(Boolean)) return;
  const policy = new ResourcePolicy(scope, 'SecretGuard', { secret });
  policy.document.addStatements(...statements);
  Annotations.of(scope).addWarningV2(
    'rekey:guard-replaces-policy',
    'The secret guard is the whole resource policy of the imported secret: statements it had are replaced. ' +
      'Set guardSecret: false to keep a policy you manage yourself.',
  );
}
