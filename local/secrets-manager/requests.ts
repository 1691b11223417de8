import { z } from 'zod';
import { invalidParameter } from './errors.js';

const secretId = z.string().min(1).max(2048);
const token = z.string().min(32).max(64);
const stage = z.string().min(1).max(256);
const versionId = z.string().min(32).max(64);

/** CreateSecret. */
export const createSecretRequest = z.object({
  Name: z
    .string()
    .min(1)
    .max(512)
    .regex(/^[A-Za-z0-9/_+=.@-]+$/, 'may contain only letters, digits and /_+=.@-'),
  ClientRequestToken: token.optional(),
  Description: z.string().max(2048).optional(),
  KmsKeyId: z.string().optional(),
  SecretBinary: z.string().optional(),
  SecretString: z.string().max(65536).optional(),
  Tags: z.array(z.object({ Key: z.string().optional(), Value: z.string().optional() })).optional(),
});

/** Requests that name only the secret: DescribeSecret, CancelRotateSecret, RestoreSecret. */
export const secretIdRequest = z.object({ SecretId: secretId });

/** GetSecretValue. */
export const getSecretValueRequest = z.object({
  SecretId: secretId,
  VersionId: versionId.optional(),
  VersionStage: stage.optional(),
});

/** PutSecretValue. */
export const putSecretValueRequest = z.object({
  SecretId: secretId,
  ClientRequestToken: token.optional(),
  SecretBinary: z.string().optional(),
  SecretString: z.string().max(65536).optional(),
  VersionStages: z.array(stage).max(20).optional(),
  RotationToken: z.string().optional(),
});

/** UpdateSecretVersionStage. */
export const updateStageRequest = z.object({
  SecretId: secretId,
  VersionStage: stage,
  RemoveFromVersionId: versionId.optional(),
  MoveToVersionId: versionId.optional(),
});

/** A tag as the service takes it: key 1-128 and value 0-256 characters, neither starting with `aws:`. */
const tag = z.object({
  Key: z
    .string()
    .min(1)
    .max(128)
    .refine((k) => !k.startsWith('aws:'), 'must not start with aws:'),
  Value: z.string().max(256).optional(),
});

/** TagResource. */
export const tagResourceRequest = z.object({ SecretId: secretId, Tags: z.array(tag).max(50) });

/** UntagResource. */
export const untagResourceRequest = z.object({
  SecretId: secretId,
  TagKeys: z.array(z.string().min(1).max(128)).max(50),
});

/** ListSecretVersionIds. */
export const listVersionsRequest = z.object({
  SecretId: secretId,
  MaxResults: z.number().int().min(1).max(100).optional(),
  NextToken: z.string().optional(),
  IncludeDeprecated: z.boolean().optional(),
});

/** The filter keys ListSecrets takes. */
export const SECRET_FILTER_KEYS = [
  'description',
  'name',
  'tag-key',
  'tag-value',
  'primary-region',
  'owning-service',
  'all',
] as const;

/** ListSecrets. */
export const listSecretsRequest = z.object({
  IncludePlannedDeletion: z.boolean().optional(),
  MaxResults: z.number().int().min(1).max(100).optional(),
  NextToken: z.string().optional(),
  Filters: z
    .array(
      z.object({
        Key: z.enum(SECRET_FILTER_KEYS),
        Values: z
          .array(
            z
              .string()
              .max(512)
              .regex(/^!?[a-zA-Z0-9 :_@/+=.\-!]*$/, 'may contain only letters, digits, spaces and :_@/+=.-!'),
          )
          .min(1)
          .max(10),
      }),
    )
    .max(10)
    .optional(),
  SortOrder: z.enum(['asc', 'desc']).optional(),
  SortBy: z.enum(['created-date', 'last-accessed-date', 'last-changed-date', 'name']).optional(),
});

/** RotateSecret. */
export const rotateSecretRequest = z.object({
  SecretId: secretId,
  ClientRequestToken: token.optional(),
  RotationLambdaARN: z.string().optional(),
  RotationRules: z
    .object({
      AutomaticallyAfterDays: z.number().optional(),
      Duration: z.string().optional(),
      ScheduleExpression: z.string().optional(),
    })
    .optional(),
  RotateImmediately: z.boolean().optional(),
});

/** GetRandomPassword. */
export const randomPasswordRequest = z.object({
  PasswordLength: z.number().optional(),
  ExcludeCharacters: z.string().optional(),
  ExcludeNumbers: z.boolean().optional(),
  ExcludePunctuation: z.boolean().optional(),
  ExcludeUppercase: z.boolean().optional(),
  ExcludeLowercase: z.boolean().optional(),
  IncludeSpace: z.boolean().optional(),
  RequireEachIncludedType: z.boolean().optional(),
});

/** DeleteSecret. */
export const deleteSecretRequest = z.object({
  SecretId: secretId,
  RecoveryWindowInDays: z.number().optional(),
  ForceDeleteWithoutRecovery: z.boolean().optional(),
});

/**
 * Parses a request body against its schema.
 * @throws SecretsManagerError InvalidParameterException naming the first invalid member.
 */
export function parseRequest<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw invalidParameter(
    `Invalid ${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid input'}`,
  );
}
