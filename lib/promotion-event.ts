import type { EventPattern } from 'aws-cdk-lib/aws-events';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';

/**
 * The event Secrets Manager itself sends to the default bus when a staging label other than AWSPENDING
 * and AWSPREVIOUS moves to a version: `detail.labelUpdated` names the label, `detail.versionId` the
 * version, `resources` holds the secret's full ARN. It comes from the service, not from CloudTrail, so it
 * needs no trail, and it covers every promotion, whoever moved the label: the service's rotation
 * (finishSecret), `rekey resume`, `rekey init`'s first value, or an operator moving AWSCURRENT back by
 * hand. `RotationSucceeded` would miss all but the first; the CloudTrail `UpdateSecretVersionStage`
 * event would need a trail with management events and misses a value written with PutSecretValue.
 */
export const SECRET_LABEL_UPDATED = {
  source: 'aws.secretsmanager',
  detailType: 'Secret Label Updated',
} as const;

/** The label whose move means a new value is in force. */
export const CURRENT_STAGE = 'AWSCURRENT';

/**
 * The event rekey puts on the default bus after each promotion, for anything that is not an ECS service
 * to follow (a Kubernetes rollout, a pipeline): its `source` and `detail-type`. Its `detail` is a
 * {@link SecretVersionPromotedDetail}; its `resources` hold the ARNs of the state machine and the execution
 * that sent it (Step Functions adds them).
 */
export const PROMOTED_EVENT = {
  source: 'rekey',
  detailType: 'Secret version promoted',
} as const;

/** The `detail` of rekey's {@link PROMOTED_EVENT}: names and ids, never a value. */
export interface SecretVersionPromotedDetail {
  /** The full ARN of the secret whose AWSCURRENT moved. */
  readonly secretArn: string;
  /** The id of the version that is AWSCURRENT now. */
  readonly versionId: string;
}

/**
 * The pattern of {@link SECRET_LABEL_UPDATED} events that move AWSCURRENT on `secret` and on no other.
 * A secret known by its full ARN is matched on it exactly; one known by name or partial ARN on its name
 * (exact) and on its ARN up to the six-character suffix (account and region), since a prefix alone would
 * also match `NAME-other`.
 */
export function promotionEventPattern(secret: ISecret): EventPattern {
  const full = secret.secretFullArn;
  return {
    source: [SECRET_LABEL_UPDATED.source],
    detailType: [SECRET_LABEL_UPDATED.detailType],
    resources: full === undefined ? [{ prefix: `${secret.secretArn}-` } as unknown as string] : [full],
    detail:
      full === undefined
        ? { labelUpdated: [CURRENT_STAGE], name: [secret.secretName] }
        : { labelUpdated: [CURRENT_STAGE] },
  };
}
