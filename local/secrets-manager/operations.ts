import { randomInt, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { LocalClock } from '../clock.js';
import {
  invalidParameter,
  invalidRequest,
  markedForDeletion,
  SecretsManagerError,
  valueNotFound,
} from './errors.js';
import type {
  createSecretRequest,
  deleteSecretRequest,
  getSecretValueRequest,
  listVersionsRequest,
  putSecretValueRequest,
  secretIdRequest,
  tagResourceRequest,
  untagResourceRequest,
  updateStageRequest,
} from './requests.js';
import {
  AWSCURRENT,
  AWSPENDING,
  attachStage,
  detachStage,
  findVersion,
  pruneDeprecated,
  unfinishedPending,
  versionWithStage,
} from './stages.js';
import type { SecretStore } from './store.js';
import type { SecretRecord, VersionRecord } from './types.js';

/** What the operations work on. */
export interface OperationContext {
  readonly store: SecretStore;
  readonly clock: LocalClock;
  readonly region: string;
  readonly account: string;
}

type Wire = Record<string, unknown>;
const DAY_MS = 86_400_000;

/** Epoch milliseconds as the wire's epoch seconds. */
export function seconds(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : ms / 1000;
}

/**
 * CreateSecret: a new secret, with a first version staged AWSCURRENT when a value is given.
 * @throws SecretsManagerError ResourceExistsException, InvalidRequestException, InvalidParameterException.
 */
export function createSecret(ctx: OperationContext, input: z.infer<typeof createSecretRequest>): Wire {
  checkOneValue(input, false);
  const now = ctx.clock.now();
  const existing = ctx.store.all().find((s) => s.name === input.Name);
  if (existing?.deletedDate !== undefined) {
    throw invalidRequest(
      "You can't create this secret because a secret with this name is already scheduled for deletion.",
    );
  }
  if (existing) {
    // A retried CreateSecret (same token, same value) is answered as the first one was.
    const same = input.ClientRequestToken ? findVersion(existing, input.ClientRequestToken) : undefined;
    if (same && sameValue(same, input))
      return { ARN: existing.arn, Name: existing.name, VersionId: same.versionId };
    throw new SecretsManagerError(
      'ResourceExistsException',
      `The operation failed because the secret ${input.Name} already exists.`,
    );
  }
  const secret: SecretRecord = {
    arn: `arn:aws:secretsmanager:${ctx.region}:${ctx.account}:secret:${input.Name}-${arnSuffix()}`,
    name: input.Name,
    tags: input.Tags ?? [],
    createdDate: now,
    lastChangedDate: now,
    versions: [],
    ...(input.Description === undefined ? {} : { description: input.Description }),
    ...(input.KmsKeyId === undefined ? {} : { kmsKeyId: input.KmsKeyId }),
  };
  let versionId: string | undefined;
  if (input.SecretString !== undefined || input.SecretBinary !== undefined) {
    const version = newVersion(input.ClientRequestToken ?? randomUUID(), input, now);
    secret.versions.push(version);
    attachStage(secret, version, AWSCURRENT);
    versionId = version.versionId;
  }
  ctx.store.add(secret);
  ctx.store.save();
  return { ARN: secret.arn, Name: secret.name, ...(versionId ? { VersionId: versionId } : {}) };
}

/**
 * DescribeSecret: metadata and staging labels, never a value. Works on a secret scheduled for deletion.
 * @throws SecretsManagerError ResourceNotFoundException.
 */
export function describeSecret(ctx: OperationContext, input: z.infer<typeof secretIdRequest>): Wire {
  const secret = ctx.store.require(input.SecretId, ctx.clock.now());
  return { ...secretMetadata(secret), VersionIdsToStages: versionsToStages(secret) };
}

/** A secret's metadata as DescribeSecret and ListSecrets give it, without the versions' labels. */
export function secretMetadata(secret: SecretRecord): Wire {
  return {
    ARN: secret.arn,
    Name: secret.name,
    Description: secret.description,
    KmsKeyId: secret.kmsKeyId,
    RotationEnabled: secret.rotationEnabled,
    RotationLambdaARN: secret.rotationLambdaArn,
    RotationRules: secret.rotationRules,
    LastRotatedDate: seconds(secret.lastRotatedDate),
    LastChangedDate: seconds(secret.lastChangedDate),
    LastAccessedDate: seconds(secret.lastAccessedDate),
    DeletedDate: seconds(secret.deletedDate),
    NextRotationDate: secret.rotationEnabled ? seconds(secret.nextRotationDate) : undefined,
    Tags: secret.tags.length > 0 ? secret.tags : undefined,
    CreatedDate: seconds(secret.createdDate),
  };
}

/** Each version that has labels, with its labels (versions without any are left out, as the service does). */
export function versionsToStages(secret: SecretRecord): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  for (const v of secret.versions) if (v.stages.length > 0) map[v.versionId] = [...v.stages];
  return map;
}

/**
 * GetSecretValue by VersionId and/or VersionStage (AWSCURRENT when neither is given).
 * @throws SecretsManagerError ResourceNotFoundException when no version matches or it has no value yet.
 */
export function getSecretValue(ctx: OperationContext, input: z.infer<typeof getSecretValueRequest>): Wire {
  const now = ctx.clock.now();
  const secret = ctx.store.requireLive(input.SecretId, now);
  const stage = input.VersionId === undefined ? (input.VersionStage ?? AWSCURRENT) : input.VersionStage;
  const version =
    input.VersionId === undefined
      ? versionWithStage(secret, stage ?? AWSCURRENT)
      : findVersion(secret, input.VersionId);
  const matches = version && (stage === undefined || version.stages.includes(stage));
  if (!version || !matches || !hasValue(version)) throw valueNotFound({ versionId: input.VersionId, stage });
  // The service records access by day; only a new day is worth a write.
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  if (secret.lastAccessedDate !== today || version.lastAccessedDate !== today) {
    secret.lastAccessedDate = today;
    version.lastAccessedDate = today;
    ctx.store.save();
  }
  return {
    ARN: secret.arn,
    Name: secret.name,
    VersionId: version.versionId,
    SecretString: version.secretString,
    SecretBinary: version.secretBinary,
    VersionStages: [...version.stages],
    CreatedDate: seconds(version.createdDate),
  };
}

/**
 * PutSecretValue: a new version, staged AWSCURRENT unless VersionStages says otherwise. Idempotent for
 * a token and value; a value without VersionStages written during a rotation abandons that rotation.
 * @throws SecretsManagerError ResourceExistsException for a token reused with a different value.
 */
export function putSecretValue(ctx: OperationContext, input: z.infer<typeof putSecretValueRequest>): Wire {
  checkOneValue(input, true);
  const now = ctx.clock.now();
  const secret = ctx.store.requireLive(input.SecretId, now);
  const token = input.ClientRequestToken ?? randomUUID();
  let version = findVersion(secret, token);
  if (version && hasValue(version)) {
    if (!sameValue(version, input)) {
      throw new SecretsManagerError(
        'ResourceExistsException',
        "You can't modify an existing version, you can only create a new version.",
      );
    }
    return { ARN: secret.arn, Name: secret.name, VersionId: token, VersionStages: [...version.stages] };
  }
  if (input.VersionStages === undefined) abandonRotation(ctx, secret, token, now);
  if (version) {
    // The empty version RotateSecret registered receives its value now.
    if (input.SecretString !== undefined) version.secretString = input.SecretString;
    if (input.SecretBinary !== undefined) version.secretBinary = input.SecretBinary;
  } else {
    version = newVersion(token, input, now);
    secret.versions.push(version);
  }
  for (const stage of input.VersionStages ?? [AWSCURRENT]) attachStage(secret, version, stage);
  pruneDeprecated(secret);
  secret.lastChangedDate = now;
  ctx.store.save();
  return { ARN: secret.arn, Name: secret.name, VersionId: token, VersionStages: [...version.stages] };
}

function abandonRotation(ctx: OperationContext, secret: SecretRecord, token: string, now: number): void {
  const pending = unfinishedPending(secret);
  if (!pending || pending.versionId === token) return;
  detachStage(pending, AWSPENDING);
  delete secret.rotation;
  ctx.store.record({
    type: 'RotationAbandoned',
    secretArn: secret.arn,
    secretName: secret.name,
    versionId: pending.versionId,
    at: now,
    reason: 'a new value was written without VersionStages during the rotation',
  });
}

/**
 * UpdateSecretVersionStage: moves or removes a label. Moving AWSCURRENT gives the old holder AWSPREVIOUS.
 * @throws SecretsManagerError InvalidParameterException when RemoveFromVersionId does not hold the label.
 */
export function updateSecretVersionStage(
  ctx: OperationContext,
  input: z.infer<typeof updateStageRequest>,
): Wire {
  const now = ctx.clock.now();
  const secret = ctx.store.requireLive(input.SecretId, now);
  const stage = input.VersionStage;
  const holder = versionWithStage(secret, stage);
  if (input.MoveToVersionId === undefined && input.RemoveFromVersionId === undefined) {
    throw invalidParameter('Specify MoveToVersionId, RemoveFromVersionId, or both.');
  }
  if (input.RemoveFromVersionId !== undefined) {
    if (!findVersion(secret, input.RemoveFromVersionId))
      throw valueNotFound({ versionId: input.RemoveFromVersionId });
    if (holder?.versionId !== input.RemoveFromVersionId) {
      throw invalidParameter(
        `The staging label ${stage} is not attached to version ${input.RemoveFromVersionId}, so it can't be removed from it.`,
      );
    }
  }
  if (input.MoveToVersionId !== undefined) {
    const target = findVersion(secret, input.MoveToVersionId);
    if (!target) throw valueNotFound({ versionId: input.MoveToVersionId });
    if (holder && holder !== target && input.RemoveFromVersionId === undefined) {
      throw invalidParameter(
        `The staging label ${stage} is currently attached to version ${holder.versionId}, so you must explicitly reference it with RemoveFromVersionId.`,
      );
    }
    attachStage(secret, target, stage);
  } else if (holder) {
    if (stage === AWSCURRENT) {
      throw invalidParameter(
        "You can't remove the AWSCURRENT staging label; you can only move it to another version.",
      );
    }
    detachStage(holder, stage);
  }
  pruneDeprecated(secret);
  secret.lastChangedDate = now;
  ctx.store.save();
  return { ARN: secret.arn, Name: secret.name };
}

/** TagResource: adds tags or replaces the value of those already there. */
export function tagResource(ctx: OperationContext, input: z.infer<typeof tagResourceRequest>): Wire {
  const now = ctx.clock.now();
  const secret = ctx.store.requireLive(input.SecretId, now);
  for (const { Key, Value } of input.Tags) {
    const existing = secret.tags.find((t) => t.Key === Key);
    if (existing) existing.Value = Value ?? '';
    else secret.tags.push({ Key, Value: Value ?? '' });
  }
  if (secret.tags.length > 50) throw invalidParameter('A secret can have at most 50 tags.');
  secret.lastChangedDate = now;
  ctx.store.save();
  return {};
}

/** UntagResource: removes the tags with these keys; keys it does not have are ignored. */
export function untagResource(ctx: OperationContext, input: z.infer<typeof untagResourceRequest>): Wire {
  const now = ctx.clock.now();
  const secret = ctx.store.requireLive(input.SecretId, now);
  secret.tags = secret.tags.filter((t) => t.Key === undefined || !input.TagKeys.includes(t.Key));
  secret.lastChangedDate = now;
  ctx.store.save();
  return {};
}

/**
 * ListSecretVersionIds: versions with labels, or all of them with IncludeDeprecated; paginated.
 * @throws SecretsManagerError InvalidNextTokenException.
 */
export function listSecretVersionIds(
  ctx: OperationContext,
  input: z.infer<typeof listVersionsRequest>,
): Wire {
  const secret = ctx.store.require(input.SecretId, ctx.clock.now());
  const versions = input.IncludeDeprecated
    ? secret.versions
    : secret.versions.filter((v) => v.stages.length > 0);
  const { items, nextToken } = page(versions, input);
  return {
    ARN: secret.arn,
    Name: secret.name,
    Versions: items.map((v) => ({
      VersionId: v.versionId,
      // The service's model has no empty list here: a deprecated version has no VersionStages at all.
      VersionStages: v.stages.length > 0 ? [...v.stages] : undefined,
      LastAccessedDate: seconds(v.lastAccessedDate),
      CreatedDate: seconds(v.createdDate),
      KmsKeyIds: ['DefaultEncryptionKey'],
    })),
    NextToken: nextToken,
  };
}

/**
 * One page of a list: MaxResults items (100 by default) from where NextToken says.
 * @throws SecretsManagerError InvalidNextTokenException for a token this endpoint did not hand out.
 */
export function page<T>(
  all: readonly T[],
  input: { readonly MaxResults?: number | undefined; readonly NextToken?: string | undefined },
): { items: T[]; nextToken: string | undefined } {
  const start = input.NextToken === undefined ? 0 : decodeNextToken(input.NextToken);
  const end = start + (input.MaxResults ?? 100);
  return {
    items: all.slice(start, end),
    nextToken: end < all.length ? Buffer.from(String(end)).toString('base64') : undefined,
  };
}

function decodeNextToken(token: string): number {
  const text = Buffer.from(token, 'base64').toString('utf8');
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new SecretsManagerError('InvalidNextTokenException', 'The NextToken value is invalid.');
  }
  return n;
}

/**
 * DeleteSecret: scheduled after a recovery window (7–30 days, 30 by default), or at once with
 * ForceDeleteWithoutRecovery. A rotation under way stops.
 * @throws SecretsManagerError InvalidParameterException, InvalidRequestException.
 */
export function deleteSecret(ctx: OperationContext, input: z.infer<typeof deleteSecretRequest>): Wire {
  const now = ctx.clock.now();
  const secret = ctx.store.require(input.SecretId, now);
  if (input.ForceDeleteWithoutRecovery && input.RecoveryWindowInDays !== undefined) {
    throw invalidParameter(
      "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
    );
  }
  const window = input.RecoveryWindowInDays ?? 30;
  if (!Number.isInteger(window) || window < 7 || window > 30) {
    throw invalidParameter(`RecoveryWindowInDays must be from 7 to 30, got ${window}`);
  }
  if (input.ForceDeleteWithoutRecovery) {
    ctx.store.remove(secret.arn);
    ctx.store.save();
    return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(now) };
  }
  if (secret.deletedDate !== undefined) throw markedForDeletion();
  secret.deletedDate = now;
  secret.deletionDate = now + window * DAY_MS;
  delete secret.rotation;
  ctx.store.save();
  return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(secret.deletionDate) };
}

/**
 * RestoreSecret: cancels a scheduled deletion; the secret is usable again. A secret not scheduled for
 * deletion is answered the same, unchanged.
 * @throws SecretsManagerError ResourceNotFoundException, also once the recovery window has passed.
 */
export function restoreSecret(ctx: OperationContext, input: z.infer<typeof secretIdRequest>): Wire {
  const now = ctx.clock.now();
  const secret = ctx.store.require(input.SecretId, now);
  if (secret.deletedDate !== undefined) {
    delete secret.deletedDate;
    delete secret.deletionDate;
    secret.lastChangedDate = now;
    ctx.store.save();
  }
  return { ARN: secret.arn, Name: secret.name };
}

function checkOneValue(
  input: { SecretString?: string | undefined; SecretBinary?: string | undefined },
  required: boolean,
): void {
  if (input.SecretString !== undefined && input.SecretBinary !== undefined) {
    throw invalidParameter(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  }
  if (required && input.SecretString === undefined && input.SecretBinary === undefined) {
    throw invalidParameter('You must provide either SecretString or SecretBinary.');
  }
}

function newVersion(
  versionId: string,
  value: { SecretString?: string | undefined; SecretBinary?: string | undefined },
  now: number,
): VersionRecord {
  return {
    versionId,
    stages: [],
    createdDate: now,
    ...(value.SecretString === undefined ? {} : { secretString: value.SecretString }),
    ...(value.SecretBinary === undefined ? {} : { secretBinary: value.SecretBinary }),
  };
}

/** Whether a version holds a value (RotateSecret's placeholder does not until createSecret). */
export function hasValue(version: VersionRecord): boolean {
  return version.secretString !== undefined || version.secretBinary !== undefined;
}

function sameValue(
  version: VersionRecord,
  value: { SecretString?: string | undefined; SecretBinary?: string | undefined },
): boolean {
  return version.secretString === value.SecretString && version.secretBinary === value.SecretBinary;
}

function arnSuffix(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from({ length: 6 }, () => chars[randomInt(chars.length)]).join('');
}
