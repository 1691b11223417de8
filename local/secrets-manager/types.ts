/**
 * The local Secrets Manager's state: secrets, their versions and staging labels, rotation settings and
 * progress. Plain JSON-able data, so it can be written to a state file and read back by another process.
 */

/** One version of a secret. A version registered by RotateSecret has no value until createSecret puts one. */
export interface VersionRecord {
  readonly versionId: string;
  secretString?: string;
  /** Base64, as on the wire. */
  secretBinary?: string;
  stages: string[];
  readonly createdDate: number;
  lastAccessedDate?: number;
}

/** Rotation schedule, as RotateSecret takes it and DescribeSecret shows it. */
export interface RotationRules {
  readonly AutomaticallyAfterDays?: number;
  readonly Duration?: string;
  readonly ScheduleExpression?: string;
}

/** A rotation under way (or failed and waiting to be reattempted). */
export interface RotationRecord {
  /** The ClientRequestToken: the id of the version being created. */
  readonly token: string;
  /** The opaque token sent to the rotation function with every step of this rotation. */
  readonly rotationToken: string;
  /** `rotate` runs all four steps; `test` (RotateImmediately=false) runs testSecret on a temporary version. */
  readonly mode: 'rotate' | 'test';
  /** Attempts made so far. */
  attempt: number;
  state: 'running' | 'failed';
  readonly startedAt: number;
}

/** A secret. Dates are epoch milliseconds here and epoch seconds on the wire. */
export interface SecretRecord {
  readonly arn: string;
  readonly name: string;
  description?: string;
  kmsKeyId?: string;
  tags: { Key?: string | undefined; Value?: string | undefined }[];
  readonly createdDate: number;
  lastChangedDate: number;
  lastAccessedDate?: number;
  lastRotatedDate?: number;
  nextRotationDate?: number;
  deletedDate?: number;
  deletionDate?: number;
  /** `undefined` until rotation is first configured (DescribeSecret then leaves the field out). */
  rotationEnabled?: boolean;
  rotationLambdaArn?: string;
  rotationRules?: RotationRules;
  /** In creation order. */
  versions: VersionRecord[];
  rotation?: RotationRecord;
}

/** The kinds of event the local rotation log records. */
export type RotationEventType =
  | 'RotationStarted'
  | 'RotationSucceeded'
  | 'RotationFailed'
  | 'RotationAbandoned';

/** One entry of the rotation log. Carries error names and messages, never secret values. */
export interface RotationEventRecord {
  readonly type: RotationEventType;
  readonly secretArn: string;
  readonly secretName: string;
  /** The version (ClientRequestToken) the rotation was creating. */
  readonly versionId: string;
  /** Epoch milliseconds. */
  readonly at: number;
  readonly attempt?: number;
  /** For failures: the step that failed. */
  readonly step?: string;
  readonly error?: { readonly name: string; readonly message: string };
  /**
   * Why, for abandoned rotations, failed configuration tests, and rotations closed because their
   * version was promoted from outside the local rotation runner (by `rekey resume`, say).
   */
  readonly reason?: string;
}

/** The event the rotation function receives, as Secrets Manager sends it. */
export interface RotationInvocation {
  readonly Step: string;
  /** The secret's ARN. */
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly RotationToken?: string;
}

/** Runs one step of the rotation function; a rejected promise is a failed step. */
export type RotationInvoker = (event: RotationInvocation) => Promise<void>;

/** The four steps, in the order Secrets Manager runs them. */
export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
